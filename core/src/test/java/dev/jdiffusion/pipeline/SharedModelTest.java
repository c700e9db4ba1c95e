package dev.jdiffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.testing.Fixtures;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** One model shared by an application's threads: generations take turns, and a close waits for them. */
class SharedModelTest {
    private static float[] picture(StableDiffusion sd) {
        return sd.txt2img("a red cube").size(64, 64).steps(3).seed(5).generate().image().rgb();
    }

    @Test
    void generationsFromSeveralThreadsMakeTheSamePictureAsOneByOne() throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(3);
        try (StableDiffusion sd = StableDiffusion.load(Fixtures.folder("pipeline")).open()) {
            float[] alone = picture(sd);
            List<Future<float[]>> together = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                together.add(threads.submit(() -> picture(sd)));
            }
            for (Future<float[]> result : together) {
                assertArrayEquals(alone, result.get(60, TimeUnit.SECONDS));
            }
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void aCloseWaitsForTheGenerationUnderWay() throws Exception {
        StableDiffusion sd = StableDiffusion.load(Fixtures.folder("pipeline")).open();
        CountDownLatch firstStepDone = new CountDownLatch(1);
        AtomicReference<StepProgress> lastStep = new AtomicReference<>();
        ExecutorService thread = Executors.newSingleThreadExecutor();
        try {
            Future<Result> running = thread.submit(() -> sd.txt2img("a red cube").size(64, 64).steps(4).seed(5)
                    .onStep(progress -> {
                        lastStep.set(progress);
                        firstStepDone.countDown();
                    }).generate());
            assertTrue(firstStepDone.await(60, TimeUnit.SECONDS), "the generation started");
            sd.close();
            // The future itself completes a moment after the generation lets go of the model, so the steps tell.
            StepProgress last = lastStep.get();
            assertEquals(last.total(), last.step(), "close returned only once the generation had ended");
            assertEquals(64, running.get(60, TimeUnit.SECONDS).image().width());
        } finally {
            thread.shutdownNow();
            sd.close();
        }
    }

    @Test
    void aClosedModelSaysSo() {
        StableDiffusion sd = StableDiffusion.load(Fixtures.folder("pipeline")).open();
        GenerationRequest madeBefore = sd.txt2img("a red cube").size(64, 64).steps(1);
        sd.close();
        sd.close();
        for (Runnable use : List.<Runnable>of(madeBefore::generate, () -> sd.txt2img("x"),
                () -> sd.encodePrompt("x", 0).close())) {
            IllegalStateException e = assertThrows(IllegalStateException.class, use::run);
            assertTrue(e.getMessage().contains("is closed"), e.getMessage());
        }
    }
}
