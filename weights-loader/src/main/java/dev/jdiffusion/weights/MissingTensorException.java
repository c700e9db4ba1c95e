package dev.jdiffusion.weights;

/** A tensor that a model needs is not in its weights. */
public final class MissingTensorException extends WeightsException {
    private final String tensorName;

    public MissingTensorException(String tensorName, String source) {
        super("tensor '" + tensorName + "' not found in " + source
                + ": the file is incomplete or holds a different model");
        this.tensorName = tensorName;
    }

    public String tensorName() {
        return tensorName;
    }
}
