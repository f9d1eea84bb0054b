package io.streamledger.flink;

import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.types.Row;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Turns a {@code Row(topic STRING, key BYTES, value BYTES)} built in Python into a Kafka record.
 *
 * <p>PyFlink's record-serializer builder applies the key and the value schema to the same whole
 * element, so a Python job cannot give a record a key that differs from its value. Compacted
 * projection topics need exactly that (key = entity ID, value = latest projection), and one
 * transactional sink per job should carry every output topic (projection, dead letters), so the
 * topic travels in the row too. A {@code null} value is written as a tombstone.
 */
public final class TopicKeyValueSerializationSchema implements KafkaRecordSerializationSchema<Row> {

    private static final long serialVersionUID = 1L;

    @Override
    public ProducerRecord<byte[], byte[]> serialize(
            Row element, KafkaSinkContext context, Long timestamp) {
        String topic = (String) element.getField(0);
        if (topic == null) {
            throw new IllegalArgumentException("streamledger output row without a topic: " + element);
        }
        byte[] key = (byte[]) element.getField(1);
        byte[] value = (byte[]) element.getField(2);
        return new ProducerRecord<>(topic, null, timestamp, key, value);
    }
}
