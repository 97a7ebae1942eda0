import CRMPluginKit

/// The delivery worker: sends the outbox through SMTP, off the RPC path and the writer.
enum Delivery {
    /// Each SMTP attempt of a message, for GetDelivery and the operator.
    static let schema = """
        CREATE TABLE marketing_delivery_attempts (
            outbox_id INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            at_us INTEGER NOT NULL,
            smtp_code INTEGER NOT NULL,
            reply TEXT NOT NULL,
            PRIMARY KEY (outbox_id, attempt)) WITHOUT ROWID;
        """

    static func register(on def: PluginDefinition) {}
}
