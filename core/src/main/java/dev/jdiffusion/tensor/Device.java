package dev.jdiffusion.tensor;

/** Where tensors live and ops run: the CPU, or an accelerator by kind and index. */
public record Device(String kind, int index) {
    /** The host CPU (all cores by default). */
    public static final Device CPU = new Device("cpu", 0);

    public Device {
        if (kind == null || kind.isBlank()) {
            throw new IllegalArgumentException("device kind must be named");
        }
        if (index < 0) {
            throw new IllegalArgumentException("device index must be >= 0, got " + index);
        }
    }

    /** The CUDA GPU with the given ordinal. */
    public static Device cuda(int index) {
        return new Device("cuda", index);
    }

    /** Parses {@code cpu}, {@code cuda} or {@code cuda:N}. */
    public static Device parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        int colon = t.indexOf(':');
        String kind = colon < 0 ? t : t.substring(0, colon);
        int index = 0;
        if (colon >= 0) {
            try {
                index = Integer.parseInt(t.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad device '" + text + "': expected cpu, cuda or cuda:N");
            }
        }
        if (!kind.equals("cpu") && !kind.equals("cuda")) {
            throw new IllegalArgumentException("unknown device '" + text + "': expected cpu, cuda or cuda:N");
        }
        return new Device(kind, index);
    }

    @Override
    public String toString() {
        return kind.equals("cpu") ? "cpu" : kind + ":" + index;
    }
}
