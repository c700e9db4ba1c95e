package dev.jdiffusion.weights.checkpoint;

import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.WeightsException;
import dev.jdiffusion.weights.safetensors.SafetensorsFile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A single-file Stable Diffusion checkpoint in the original layout (CompVis / LDM, as A1111, ComfyUI and
 * civitai distribute them), seen as three sources in diffusers' naming: {@link #unet()}, {@link #vae()}
 * and {@link #textEncoder()}. The conversion is by rules on the key structure, never by per-model tables;
 * the bytes stay in the mapped file (F32, F16 or BF16 as stored).
 */
public final class LdmCheckpoint implements AutoCloseable {
    private static final String UNET = "model.diffusion_model.";
    private static final String VAE = "first_stage_model.";
    private static final String CLIP = "cond_stage_model.transformer.";
    private static final String OPEN_CLIP = "cond_stage_model.model.";
    private static final Pattern DOWNSAMPLE = Pattern.compile("input_blocks\\.(\\d+)\\.0\\.op\\.weight");
    private static final Pattern INPUT_BLOCK = Pattern.compile("input_blocks\\.(\\d+)\\..*");
    private static final Pattern VAE_UP = Pattern.compile("decoder\\.up\\.(\\d+)\\..*");

    /** The model family, from the text encoder the file carries. */
    public enum Family {
        /** OpenAI CLIP ViT-L/14 text encoder: Stable Diffusion 1.x. */
        SD1,
        /** OpenCLIP ViT-H/14 text encoder: Stable Diffusion 2.x. */
        SD2
    }

    private final SafetensorsFile file;
    private final Family family;
    private final TensorSource unet;
    private final TensorSource vae;
    private final TensorSource textEncoder;

    private LdmCheckpoint(SafetensorsFile file, Family family, TensorSource unet, TensorSource vae, TensorSource textEncoder) {
        this.file = file;
        this.family = family;
        this.unet = unet;
        this.vae = vae;
        this.textEncoder = textEncoder;
    }

    /** Opens a single-file checkpoint; a {@link WeightsException} says why a file is not one. */
    public static LdmCheckpoint open(Path path) {
        if (path.getFileName().toString().endsWith(".ckpt") || path.getFileName().toString().endsWith(".pt")) {
            throw new WeightsException(path + " is a pickled checkpoint, which is never unpickled (loading it can run "
                    + "arbitrary code). Convert it to .safetensors first, e.g. with diffusers' "
                    + "scripts/convert_original_stable_diffusion_to_diffusers.py --to_safetensors");
        }
        SafetensorsFile file = SafetensorsFile.open(path);
        try {
            Set<String> names = file.names();
            if (names.stream().noneMatch(n -> n.startsWith(UNET))) {
                throw new WeightsException(path + " holds no " + UNET + "* tensors: not a Stable Diffusion checkpoint in "
                        + "the original single-file layout");
            }
            boolean openClip = names.stream().anyMatch(n -> n.startsWith(OPEN_CLIP));
            return new LdmCheckpoint(file, openClip ? Family.SD2 : Family.SD1, unet(file, path), vae(file, path),
                    openClip ? OpenClipNames.textEncoder(file, OPEN_CLIP, path) : textEncoder(file, path));
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static TensorSource unet(SafetensorsFile file, Path path) {
        Set<String> keys = new TreeSet<>();
        file.names().stream().filter(n -> n.startsWith(UNET)).forEach(n -> keys.add(n.substring(UNET.length())));
        int layersPerBlock = layersPerBlock(keys);
        RenamedTensorSource.Builder b = new RenamedTensorSource.Builder(path + " (U-Net)");
        for (String key : keys) {
            String name = LdmKeyRules.unet(key, layersPerBlock,
                    i -> keys.contains("output_blocks." + i + ".1.proj_in.weight"));
            if (name != null) {
                RawTensor t = file.get(UNET + key);
                b.put(name, t, t.shape());
            }
        }
        return b.build();
    }

    /** One more than the index of the first input block that downsamples, else the count of input blocks. */
    private static int layersPerBlock(Set<String> keys) {
        int first = Integer.MAX_VALUE;
        int last = 0;
        for (String key : keys) {
            Matcher down = DOWNSAMPLE.matcher(key);
            if (down.matches()) {
                first = Math.min(first, Integer.parseInt(down.group(1)));
            }
            Matcher block = INPUT_BLOCK.matcher(key);
            if (block.matches()) {
                last = Math.max(last, Integer.parseInt(block.group(1)));
            }
        }
        return first != Integer.MAX_VALUE ? first - 1 : last;
    }

    private static TensorSource vae(SafetensorsFile file, Path path) {
        int upLevels = 0;
        for (String n : file.names()) {
            if (n.startsWith(VAE)) {
                Matcher m = VAE_UP.matcher(n.substring(VAE.length()));
                if (m.matches()) {
                    upLevels = Math.max(upLevels, Integer.parseInt(m.group(1)) + 1);
                }
            }
        }
        RenamedTensorSource.Builder b = new RenamedTensorSource.Builder(path + " (VAE)");
        for (String n : file.names()) {
            if (!n.startsWith(VAE)) {
                continue;
            }
            String name = LdmKeyRules.vae(n.substring(VAE.length()), upLevels);
            if (name == null) {
                continue;
            }
            RawTensor t = file.get(n);
            long[] shape = t.shape();
            if (LdmKeyRules.isVaeAttentionProjection(name)) {
                // stored as 1x1 convolutions ([C, C, 1, 1], biases [C] or [C, 1, 1]); diffusers uses linear layers
                shape = Arrays.copyOf(shape, name.endsWith(".weight") ? 2 : 1);
            }
            b.put(name, t, shape);
        }
        if (b.isEmpty()) {
            throw new WeightsException(path + " holds no VAE (" + VAE + "*): give the VAE separately");
        }
        return b.build();
    }

    private static TensorSource textEncoder(SafetensorsFile file, Path path) {
        RenamedTensorSource.Builder b = new RenamedTensorSource.Builder(path + " (text encoder)");
        for (String n : file.names()) {
            if (!n.startsWith(CLIP) || n.endsWith("position_ids")) {
                continue;
            }
            String rest = n.substring(CLIP.length());
            RawTensor t = file.get(n);
            b.put(rest.startsWith("text_model.") ? rest : "text_model." + rest, t, t.shape());
        }
        if (b.isEmpty()) {
            throw new WeightsException(path + " holds no text encoder (" + CLIP + "*)");
        }
        return b.build();
    }

    public Family family() {
        return family;
    }

    /** The U-Net's tensors under diffusers' names. */
    public TensorSource unet() {
        return unet;
    }

    /** The VAE's tensors under diffusers' names. */
    public TensorSource vae() {
        return vae;
    }

    /** The text encoder's tensors under transformers' names ({@code text_model.*}). */
    public TensorSource textEncoder() {
        return textEncoder;
    }

    /** Lets the operating system drop the file's pages brought into memory (see {@link TensorSource#releaseResidentPages()}). */
    public void releaseResidentPages() {
        file.releaseResidentPages();
    }

    /** Unmaps the file; the three sources must not be used afterwards. */
    @Override
    public void close() {
        file.close();
    }
}
