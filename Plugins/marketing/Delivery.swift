import CRMPluginKit

/// The delivery worker: sends the outbox through SMTP, off the RPC path and the writer.
enum Delivery {
    static func register(on def: PluginDefinition) {}
}
