package dev.jdiffusion.schedulers;

import java.util.Arrays;
import java.util.Locale;
import java.util.function.Function;

/**
 * The samplers by the names users know from the A1111 and diffusers world. Each makes a fresh
 * {@link Scheduler} (they keep per-generation state) from a model's {@link SchedulerConfig}.
 */
public enum Samplers {
    DDIM("ddim", "DDIMScheduler", DdimScheduler::new),
    PNDM("pndm", "PNDMScheduler", PndmScheduler::new),
    PLMS("plms", "PNDMScheduler", PndmScheduler::new),
    EULER("euler", "EulerDiscreteScheduler", EulerScheduler::new),
    EULER_A("euler_a", "EulerAncestralDiscreteScheduler", EulerAncestralScheduler::new),
    DPMPP_2M("dpmpp_2m", "DPMSolverMultistepScheduler", DpmSolverMultistepScheduler::new),
    DPMPP_2M_KARRAS("dpmpp_2m_karras", "DPMSolverMultistepScheduler",
            config -> new DpmSolverMultistepScheduler(config.withKarrasSigmas(true))),
    DDPM("ddpm", "DDPMScheduler", DdpmScheduler::new),
    LMS("lms", "LMSDiscreteScheduler", LmsScheduler::new),
    HEUN("heun", "HeunDiscreteScheduler", HeunScheduler::new),
    UNIPC("unipc", "UniPCMultistepScheduler", UniPcScheduler::new);

    private final String userName;
    private final String diffusersClass;
    private final Function<SchedulerConfig, Scheduler> factory;

    Samplers(String userName, String diffusersClass, Function<SchedulerConfig, Scheduler> factory) {
        this.userName = userName;
        this.diffusersClass = diffusersClass;
        this.factory = factory;
    }

    /** The name users type ({@code euler_a}, {@code dpmpp_2m_karras}, ...). */
    public String userName() {
        return userName;
    }

    /** The diffusers scheduler class this sampler reproduces. */
    public String diffusersClass() {
        return diffusersClass;
    }

    /** A fresh scheduler for a model with this schedule. */
    public Scheduler create(SchedulerConfig config) {
        return factory.apply(config);
    }

    /** The sampler a user names (case and dashes ignored); an error that lists the known names otherwise. */
    public static Samplers byName(String name) {
        String normalized = name.trim().toLowerCase(Locale.ROOT).replace('-', '_').replace("++", "pp")
                .replace("euler_ancestral", "euler_a");
        for (Samplers s : values()) {
            if (s.userName.equals(normalized) || s.name().equalsIgnoreCase(normalized)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown sampler '" + name + "'; known: "
                + String.join(", ", Arrays.stream(values()).map(Samplers::userName).toList()));
    }
}
