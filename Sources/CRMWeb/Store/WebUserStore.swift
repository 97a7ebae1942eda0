import Foundation

/// A web user: a name that signs in to crm-web with a password. crmd knows
/// the CRM user of the same name, with its roles; the web user is bound to no uid.
public struct WebUser: Sendable, Equatable {
    public var name: String
    public var passwordHash: String
    public var createdUnixUs: Int64
    public var updatedUnixUs: Int64
    /// Failed sign-ins since the last success or lock.
    public var failures: Int
    /// A sign-in is refused until then (0: not locked).
    public var lockedUntilUnixUs: Int64
}

public enum WebUserError: Error, CustomStringConvertible, Equatable {
    case invalidName(String)
    case invalidPassword(String)
    case exists(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .invalidName(let name):
            return "web user name \"\(name)\" must be 1-64 of a-z 0-9 . _ -, starting with a letter or digit (as a CRM user's)"
        case .invalidPassword(let why): return "password \(why)"
        case .exists(let name): return "web user \(name) already exists"
        case .notFound(let name): return "no web user \(name)"
        }
    }
}

/// crm-web's own users, in `<data-dir>/web.db`. Not in crmd: a password
/// hash is the web console's business, crmd has no use for it, and a crmd
/// without a web console then holds no secrets for one.
public final class WebUserStore: Sendable {
    private let db: SQLiteDatabase

    public init(dataDir: String) throws {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        db = try SQLiteDatabase(path: (dataDir as NSString).appendingPathComponent("web.db"))
        try db.query("""
            CREATE TABLE IF NOT EXISTS web_users (
              name TEXT PRIMARY KEY,
              password_hash TEXT NOT NULL,
              created_us INTEGER NOT NULL,
              updated_us INTEGER NOT NULL,
              failures INTEGER NOT NULL DEFAULT 0,
              locked_until_us INTEGER NOT NULL DEFAULT 0
            ) STRICT
            """)
    }

    /// The rule CRM user names follow (docs/ACCESS.md), so each web user
    /// can have its CRM user of the same name.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func allowed(_ b: UInt8) -> Bool { (97...122).contains(b) || (48...57).contains(b) || b == 46 || b == 95 || b == 45 }
        let first = bytes[0]
        return ((97...122).contains(first) || (48...57).contains(first)) && bytes.allSatisfy(allowed)
    }

    /// 8 to 72 bytes: bcrypt reads only the first 72, and a longer password
    /// silently cut short would be a surprise.
    public static func checkPassword(_ password: String) throws {
        let count = password.utf8.count
        if count < 8 { throw WebUserError.invalidPassword("must be at least 8 bytes") }
        if count > 72 { throw WebUserError.invalidPassword("must be at most 72 bytes (bcrypt reads no more)") }
        if password.utf8.contains(0) { throw WebUserError.invalidPassword("must not contain NUL") }
    }

    public func add(name: String, passwordHash: String) throws {
        guard Self.isValidName(name) else { throw WebUserError.invalidName(name) }
        if try user(named: name) != nil { throw WebUserError.exists(name) }
        let now = nowMicros()
        try db.query("INSERT INTO web_users (name, password_hash, created_us, updated_us) VALUES (?, ?, ?, ?)",
                     [.text(name), .text(passwordHash), .integer(now), .integer(now)])
    }

    /// A new password also lifts a lock: the administrator who set it vouches for the user.
    public func setPassword(name: String, passwordHash: String) throws {
        guard try user(named: name) != nil else { throw WebUserError.notFound(name) }
        try db.query("UPDATE web_users SET password_hash = ?, updated_us = ?, failures = 0, locked_until_us = 0 WHERE name = ?",
                     [.text(passwordHash), .integer(nowMicros()), .text(name)])
    }

    public func remove(name: String) throws {
        guard try user(named: name) != nil else { throw WebUserError.notFound(name) }
        try db.query("DELETE FROM web_users WHERE name = ?", [.text(name)])
    }

    public func user(named name: String) throws -> WebUser? {
        try db.query("SELECT name, password_hash, created_us, updated_us, failures, locked_until_us FROM web_users WHERE name = ?",
                     [.text(name)]).first.map(Self.decode)
    }

    /// Every web user, by name, `limit` at most, after `afterName`.
    public func list(after afterName: String = "", limit: Int = 1000) throws -> [WebUser] {
        try db.query("SELECT name, password_hash, created_us, updated_us, failures, locked_until_us FROM web_users WHERE name > ? ORDER BY name LIMIT ?",
                     [.text(afterName), .integer(Int64(max(1, min(limit, 10_000))))]).map(Self.decode)
    }

    func recordFailure(name: String, failures: Int, lockedUntil: Int64) throws {
        try db.query("UPDATE web_users SET failures = ?, locked_until_us = ? WHERE name = ?",
                     [.integer(Int64(failures)), .integer(lockedUntil), .text(name)])
    }

    func recordSuccess(name: String) throws {
        try db.query("UPDATE web_users SET failures = 0, locked_until_us = 0 WHERE name = ?", [.text(name)])
    }

    private static func decode(_ row: [SQLValue]) -> WebUser {
        WebUser(name: row[0].string ?? "", passwordHash: row[1].string ?? "",
                createdUnixUs: row[2].int ?? 0, updatedUnixUs: row[3].int ?? 0,
                failures: Int(clamping: row[4].int ?? 0), lockedUntilUnixUs: row[5].int ?? 0)
    }
}
