import CRMPluginKit

/// Consent per person and channel: the append-only ledger, double opt-in
/// tokens, the suppression list.
enum Consent {
    static let schema = """
        CREATE TABLE marketing_consent_state (
            person_id INTEGER NOT NULL,
            channel INTEGER NOT NULL,
            status INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            PRIMARY KEY (person_id, channel)) WITHOUT ROWID;
        """

    static func register(on def: PluginDefinition) {}

    /// A contacts event about a person (merged, erased...), in the event's transaction.
    static func onContactEvent(_ ctx: CallContext, _ db: Database, _ event: Event) throws {}
}
