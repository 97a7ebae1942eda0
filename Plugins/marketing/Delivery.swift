import CRMPluginKit

/// The delivery worker: sends the outbox through SMTP, off the RPC path and
/// the writer (DeliveryWorker), with its claims and records
/// (DeliveryStore), settings (DeliveryConfig), wire form (DeliveryMIME),
/// libcurl connection (DeliverySMTP) and rpcs (DeliveryMethods).
enum Delivery {
    /// Each SMTP attempt of a message, for GetDelivery and the operator;
    /// the random value Message-IDs are derived from.
    static let schema = """
        CREATE TABLE marketing_delivery_attempts (
            outbox_id INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            at_us INTEGER NOT NULL,
            smtp_code INTEGER NOT NULL,
            reply TEXT NOT NULL,
            PRIMARY KEY (outbox_id, attempt)) WITHOUT ROWID;
        CREATE TABLE marketing_delivery_secret (id INTEGER PRIMARY KEY CHECK (id = 1), secret TEXT NOT NULL);
        CREATE INDEX marketing_outbox_campaign ON marketing_outbox (campaign_id, id);
        """

    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "RunDelivery", DeliveryWorker.run)
        def.unary(Marketing.service + "ClaimDeliveries", DeliveryStore.claim)
        def.unary(Marketing.service + "RecordDeliveries", DeliveryStore.record)
        def.unary(Marketing.service + "GetDelivery", DeliveryMethods.get)
        def.unary(Marketing.service + "ListDeliveries", DeliveryMethods.list)
        def.unary(Marketing.service + "RetryDelivery", DeliveryMethods.retry)
        def.unary(Marketing.service + "GetDeliveryStatus", DeliveryMethods.status)
        def.unary(Marketing.service + "SendTestEmail", DeliveryMethods.sendTest)
        def.unary(Marketing.service + "QueueTransactionalEmail", DeliveryTransactional.queue)
    }
}
