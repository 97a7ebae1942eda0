/// Remembers which record a create made under a client's idempotency key,
/// so a retried create answers with the first result instead of a second
/// record. The key is recorded in the create's own transaction: either both
/// the record and the key commit or neither does.
///
/// The plugin owns the table (its name carries the plugin's prefix); create
/// it in a migration with `IdempotencyKeys.createTableSQL(table)`.
public struct IdempotencyKeys {
    public let table: String

    public init(table: String) { self.table = table }

    public static func createTableSQL(_ table: String) -> String {
        """
        CREATE TABLE \(table) (
            method TEXT NOT NULL,
            key TEXT NOT NULL,
            result_id INTEGER NOT NULL,
            created_unix_us INTEGER NOT NULL,
            PRIMARY KEY (method, key)
        );
        """
    }

    /// The id recorded for `key`, or nil. An empty key is never recorded.
    public func lookup(_ db: Database, method: String, key: String) throws -> Int64? {
        guard !key.isEmpty else { return nil }
        guard key.utf8.count <= 200 else { throw PluginError.invalidArgument("idempotency_key is longer than 200 bytes") }
        return try db.query("SELECT result_id FROM \(table) WHERE method = ? AND key = ?", [.text(method), .text(key)])
            .first?.first?.int
    }

    public func record(_ db: Database, method: String, key: String, resultID: Int64) throws {
        guard !key.isEmpty else { return }
        try db.execute("INSERT INTO \(table) (method, key, result_id, created_unix_us) VALUES (?, ?, ?, ?)",
                       [.text(method), .text(key), .integer(resultID), .integer(UTCClock.nowMicros())])
    }
}
