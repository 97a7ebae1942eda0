import SwiftProtobuf

/// Remembers which record a create made under a client's idempotency key,
/// so a retried create answers with the first result instead of a second
/// record. The key is recorded in the create's own transaction: either both
/// the record and the key commit or neither does.
///
/// With the key goes a fingerprint of the request (see `fingerprint`): the
/// same key with a different request is refused with FAILED_PRECONDITION
/// rather than answered with the first result, as Stripe does. Scope: one
/// method (the same key on two methods is two keys); there is no per-caller
/// scope until crmd has users. Lifetime: as long as the database; keys are
/// never expired, so a key is never reused by accident.
///
/// The plugin owns the table (its name carries the plugin's prefix); create
/// it in a migration with `createTableSQL(table)`, then add the fingerprint
/// column with `addFingerprintSQL(table)` in a later one.
public struct IdempotencyKeys {
    public let table: String

    public init(table: String) { self.table = table }

    /// A keyed call's key and fingerprint, to record once the create is done.
    public struct Claim {
        public let method: String
        public let key: String
        public let fingerprint: [UInt8]
    }

    /// The first table version (old migrations use it; never change it).
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

    /// Keys recorded before this column existed have no fingerprint and
    /// match any request: there is nothing to compare them with.
    public static func addFingerprintSQL(_ table: String) -> String {
        "ALTER TABLE \(table) ADD COLUMN fingerprint BLOB;"
    }

    /// SHA-256 of the request's binary serialization with its idempotency
    /// key cleared and map entries sorted. It is taken of the decoded
    /// message, so two encodings of the same values match; swift-protobuf's
    /// output for equal messages is stable within one build (an upgrade of
    /// it could, in principle, make a retry across the upgrade mismatch).
    public static func fingerprint<M: Message>(_ request: M, key: WritableKeyPath<M, String>) throws -> [UInt8] {
        var copy = request
        copy[keyPath: key] = ""
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: [UInt8] = try copy.serializedBytes(options: options)
        return SHA256.hash(bytes)
    }

    /// The answer to a key reused with another request.
    public static func mismatch(method: String, key: String) -> PluginError {
        .failedPrecondition("idempotency_key \"\(key)\" was already used with a different \(method) request; "
            + "a retry must repeat the request exactly, and a new request needs a new key")
    }

    /// The id an earlier call with this key made (a retry), or nil; and the
    /// claim to `record` when there was none. An empty key is never recorded.
    public func check<M: Message>(_ db: Database, method: String, _ request: M,
                                  key: WritableKeyPath<M, String>) throws -> (previous: Int64?, claim: Claim?) {
        let value = request[keyPath: key]
        guard !value.isEmpty else { return (nil, nil) }
        guard value.utf8.count <= 200 else { throw PluginError.invalidArgument("idempotency_key is longer than 200 bytes") }
        let claim = Claim(method: method, key: value, fingerprint: try Self.fingerprint(request, key: key))
        guard let row = try db.query("SELECT result_id, fingerprint FROM \(table) WHERE method = ? AND key = ?",
                                     [.text(method), .text(value)]).first else { return (nil, claim) }
        if let stored = row[1].bytes, stored != claim.fingerprint { throw Self.mismatch(method: method, key: value) }
        return (row[0].int, nil)
    }

    public func record(_ db: Database, _ claim: Claim?, resultID: Int64) throws {
        guard let claim else { return }
        try db.execute("INSERT INTO \(table) (method, key, result_id, created_unix_us, fingerprint) VALUES (?, ?, ?, ?, ?)",
                       [.text(claim.method), .text(claim.key), .integer(resultID), .integer(UTCClock.nowMicros()),
                        .blob(claim.fingerprint)])
    }
}
