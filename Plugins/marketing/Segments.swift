import CRMPluginKit

/// Rule-based segments and static lists, their membership kept up to date
/// from contacts' events as they commit.
enum Segments {
    static let schema = """
        CREATE TABLE marketing_segments (id INTEGER PRIMARY KEY);
        """

    static func register(on def: PluginDefinition) {}

    /// A contacts event, in the event's transaction.
    static func onContactEvent(_ ctx: CallContext, _ db: Database, _ event: Event) throws {}

    /// Something this module keeps about the person changed (consent):
    /// re-evaluates the person's rule-segment membership, in the caller's transaction.
    static func personChanged(_ ctx: CallContext, _ db: Database, personID: Int64) throws {}
}
