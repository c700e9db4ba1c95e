package dev.jdiffusion.models.vae;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;
import java.util.function.Function;

/**
 * The VAE decode of a large latent in overlapping tiles, as diffusers' {@code AutoencoderKL.tiled_decode}
 * does it, so that the decoder's memory is that of one tile whatever the image size. Tiles of
 * {@code tile x tile} latents start every {@code 3/4 tile}; each decoded tile is blended linearly into the
 * one above and the one to its left over a quarter of a decoded tile, then cropped to the stride, which
 * hides the seams that each tile's own group-norm statistics would leave.
 */
final class TiledDecode {
    private static final double OVERLAP = 0.25;

    private final int tile;
    private final int stride;
    private final int scale;
    private final int blend;
    private final int keep;

    /** @param scale pixels per latent */
    TiledDecode(int tileLatents, int scale) {
        this.tile = tileLatents;
        this.stride = (int) (tileLatents * (1 - OVERLAP));
        this.scale = scale;
        this.blend = (int) (tileLatents * scale * OVERLAP);
        this.keep = tileLatents * scale - blend;
    }

    /** Whether a latent of this size is decoded in tiles. */
    boolean needed(int height, int width) {
        return height > tile || width > tile;
    }

    /**
     * @param latents {@code [batch, channels, h, w]}, channels-first
     * @param decodeTile decodes one {@code [batch, channels, th, tw]} latent tile to {@code [batch, out, th * s, tw * s]}
     */
    Tensor decode(Backend backend, Tensor latents, Function<Tensor, Tensor> decodeTile) {
        int batch = latents.dim(0);
        int channels = latents.dim(1);
        int height = latents.dim(2);
        int width = latents.dim(3);
        float[] z = latents.toFloatArray();
        int rows = (height + stride - 1) / stride;
        int columns = (width + stride - 1) / stride;
        Decoded[][] tiles = new Decoded[rows][columns];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < columns; j++) {
                int y0 = i * stride;
                int x0 = j * stride;
                int th = Math.min(tile, height - y0);
                int tw = Math.min(tile, width - x0);
                float[] piece = crop(z, batch, channels, height, width, y0, x0, th, tw);
                try (Tensor in = backend.fromFloats(piece, batch, channels, th, tw); Tensor out = decodeTile.apply(in)) {
                    tiles[i][j] = new Decoded(out.toFloatArray(), out.dim(1), out.dim(2), out.dim(3));
                }
            }
        }
        int outChannels = tiles[0][0].channels;
        int outHeight = height * scale;
        int outWidth = width * scale;
        float[] image = new float[batch * outChannels * outHeight * outWidth];
        // Blended in place, in diffusers' order: a tile blends into the already blended tiles above and left.
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < columns; j++) {
                Decoded t = tiles[i][j];
                if (i > 0) {
                    blendVertically(tiles[i - 1][j], t, batch * outChannels);
                }
                if (j > 0) {
                    blendHorizontally(tiles[i][j - 1], t, batch * outChannels);
                }
                place(t, image, batch * outChannels, outHeight, outWidth, i * stride * scale, j * stride * scale);
            }
        }
        return backend.fromFloats(image, batch, outChannels, outHeight, outWidth);
    }

    /** A decoded tile: {@code [batch, channels, height, width]} floats. */
    private record Decoded(float[] data, int channels, int height, int width) {}

    private static float[] crop(float[] z, int batch, int channels, int height, int width, int y0, int x0, int th, int tw) {
        float[] piece = new float[batch * channels * th * tw];
        for (int plane = 0; plane < batch * channels; plane++) {
            for (int y = 0; y < th; y++) {
                System.arraycopy(z, (plane * height + y0 + y) * width + x0, piece, (plane * th + y) * tw, tw);
            }
        }
        return piece;
    }

    /** The first rows of {@code b} fade in from the last rows of {@code a} (the tile above). */
    private void blendVertically(Decoded a, Decoded b, int planes) {
        int extent = Math.min(blend, Math.min(a.height, b.height));
        for (int plane = 0; plane < planes; plane++) {
            for (int y = 0; y < extent; y++) {
                float weight = (float) y / extent;
                int aRow = (plane * a.height + a.height - extent + y) * a.width;
                int bRow = (plane * b.height + y) * b.width;
                for (int x = 0; x < Math.min(a.width, b.width); x++) {
                    b.data[bRow + x] = a.data[aRow + x] * (1 - weight) + b.data[bRow + x] * weight;
                }
            }
        }
    }

    /** The first columns of {@code b} fade in from the last columns of {@code a} (the tile to the left). */
    private void blendHorizontally(Decoded a, Decoded b, int planes) {
        int extent = Math.min(blend, Math.min(a.width, b.width));
        for (int plane = 0; plane < planes; plane++) {
            for (int y = 0; y < Math.min(a.height, b.height); y++) {
                int aRow = (plane * a.height + y) * a.width;
                int bRow = (plane * b.height + y) * b.width;
                for (int x = 0; x < extent; x++) {
                    float weight = (float) x / extent;
                    b.data[bRow + x] = a.data[aRow + a.width - extent + x] * (1 - weight) + b.data[bRow + x] * weight;
                }
            }
        }
    }

    /** Copies the tile, cropped to the stride (what later tiles do not cover), into the image. */
    private void place(Decoded t, float[] image, int planes, int outHeight, int outWidth, int y0, int x0) {
        int rows = Math.min(keep, t.height);
        int columns = Math.min(keep, t.width);
        for (int plane = 0; plane < planes; plane++) {
            for (int y = 0; y < rows && y0 + y < outHeight; y++) {
                System.arraycopy(t.data, (plane * t.height + y) * t.width, image, (plane * outHeight + y0 + y) * outWidth + x0,
                        Math.min(columns, outWidth - x0));
            }
        }
    }
}
