package dev.jdiffusion.schedulers;

/** What the model predicts: the noise ({@code epsilon}, SD 1.x, SD 2 base) or the velocity ({@code v_prediction}, SD 2.x 768). */
public enum PredictionType {
    EPSILON("epsilon"),
    V_PREDICTION("v_prediction");

    private final String configName;

    PredictionType(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    public static PredictionType fromConfig(String name) {
        for (PredictionType t : values()) {
            if (t.configName.equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unsupported prediction_type '" + name + "' (known: epsilon, v_prediction)");
    }
}
