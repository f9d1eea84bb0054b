package io.streamledger.flink;

import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.kafka.common.TopicPartition;

import java.util.HashMap;
import java.util.Map;

/**
 * Builds an {@link OffsetsInitializer} from explicit per-partition offsets given as text.
 *
 * <p>Python resolves where a job resumes (committed offsets, else the earliest retained offset)
 * and passes {@code "partition:offset,..."}. Going through text avoids py4j turning small Python
 * ints into {@code Integer} where the connector needs {@code Long}.
 */
public final class StartingOffsets {

    private StartingOffsets() {}

    public static OffsetsInitializer fromSpec(String topic, String spec) {
        Map<TopicPartition, Long> offsets = new HashMap<>();
        if (!spec.isEmpty()) {
            for (String entry : spec.split(",")) {
                String[] parts = entry.split(":");
                offsets.put(
                        new TopicPartition(topic, Integer.parseInt(parts[0])),
                        Long.parseLong(parts[1]));
            }
        }
        return OffsetsInitializer.offsets(offsets);
    }
}
