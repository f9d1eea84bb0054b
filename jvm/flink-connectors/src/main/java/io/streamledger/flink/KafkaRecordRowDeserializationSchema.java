package io.streamledger.flink;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Hands a Kafka record to Python as {@code Row(topic, partition, offset, timestamp, key, value)}.
 *
 * <p>PyFlink's value-only deserializers drop the coordinates of a record. streamledger needs them:
 * a record that cannot be decoded goes to the dead-letter topic with its topic, partition and
 * offset, so it can be found and replayed. Decoding itself happens in Python, where a bad payload
 * becomes a dead letter instead of a failed (and endlessly restarting) job.
 */
public final class KafkaRecordRowDeserializationSchema
        implements KafkaRecordDeserializationSchema<Row> {

    private static final long serialVersionUID = 1L;

    /** The row type, mirrored in Python by {@code jobs.builder.KAFKA_RECORD_TYPE}. */
    public static final TypeInformation<Row> ROW_TYPE =
            Types.ROW_NAMED(
                    new String[] {"topic", "partition", "offset", "timestamp", "key", "value"},
                    Types.STRING,
                    Types.INT,
                    Types.LONG,
                    Types.LONG,
                    Types.PRIMITIVE_ARRAY(Types.BYTE),
                    Types.PRIMITIVE_ARRAY(Types.BYTE));

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Row> out) {
        out.collect(
                Row.of(
                        record.topic(),
                        record.partition(),
                        record.offset(),
                        record.timestamp(),
                        record.key(),
                        record.value()));
    }

    @Override
    public TypeInformation<Row> getProducedType() {
        return ROW_TYPE;
    }
}
