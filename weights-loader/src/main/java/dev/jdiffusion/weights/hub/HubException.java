package dev.jdiffusion.weights.hub;

import dev.jdiffusion.weights.WeightsException;

/** The hub answered, but not with what was asked: access refused, not found, or a server error. */
public class HubException extends WeightsException {
    private final int status;

    public HubException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** The HTTP status the hub answered with. */
    public int status() {
        return status;
    }

    /** Whether trying again later may succeed (a server error or throttling), unlike a refusal or a missing file. */
    public boolean transientFailure() {
        return status >= 500 || status == 429;
    }
}
