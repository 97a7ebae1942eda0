import CRMKernelContract
import CRMPluginABI
import CRMWire
import Foundation

/// The kernel_access_* tables: created with the kernel's own schema
/// (KernelDatabase, like the event log's), read whole at start, written on
/// the writer thread in one transaction per Access write.
enum AccessStore {
    static let schema = """
        CREATE TABLE IF NOT EXISTS kernel_access_users (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
            version INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS kernel_access_uids (
            uid INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES kernel_access_users(id));
        CREATE TABLE IF NOT EXISTS kernel_access_teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE IF NOT EXISTS kernel_access_team_members (
            team_id INTEGER NOT NULL REFERENCES kernel_access_teams(id),
            user_id INTEGER NOT NULL REFERENCES kernel_access_users(id), PRIMARY KEY (team_id, user_id));
        CREATE TABLE IF NOT EXISTS kernel_access_grants (
            user_id INTEGER NOT NULL REFERENCES kernel_access_users(id), role TEXT NOT NULL,
            PRIMARY KEY (user_id, role));
        CREATE TABLE IF NOT EXISTS kernel_access_roles (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL,
            version INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS kernel_access_role_grants (
            role_id INTEGER NOT NULL REFERENCES kernel_access_roles(id) ON DELETE CASCADE,
            position INTEGER NOT NULL, pattern TEXT NOT NULL, scope INTEGER NOT NULL,
            PRIMARY KEY (role_id, position));
        CREATE TABLE IF NOT EXISTS kernel_access_idempotency (
            method TEXT NOT NULL, key TEXT NOT NULL, fingerprint BLOB NOT NULL, response BLOB NOT NULL,
            PRIMARY KEY (method, key));
        """

    /// Columns added after the first release, for older databases.
    static let userColumns: [(name: String, definition: String)] = [("disabled", "INTEGER NOT NULL DEFAULT 0")]

    /// One statement of a write.
    struct Statement {
        var sql: String
        var parameters: [SQLValue]
        init(_ sql: String, _ parameters: [SQLValue]) { self.sql = sql; self.parameters = parameters }
    }

    /// Reads the whole model (start-up, main thread).
    static func open(_ database: KernelDatabase) throws -> (AccessModel, [String: AccessIdempotency.Entry]) {
        let db = database.connection
        var model = AccessModel()
        var names: [Int64: String] = [:]
        for row in try db.query("SELECT id, name, display_name, version, disabled FROM kernel_access_users") {
            guard case .integer(let id) = row[0], case .text(let name) = row[1], case .text(let display) = row[2],
                  case .integer(let version) = row[3] else { continue }
            model.users[name] = .init(id: id, name: name, displayName: display, version: version,
                                      disabled: row[4] != .integer(0))
            names[id] = name
            model.nextID = max(model.nextID, id + 1)
        }
        for row in try db.query("SELECT uid, user_id FROM kernel_access_uids") {
            guard case .integer(let uid) = row[0], case .integer(let id) = row[1], let name = names[id],
                  let uid32 = UInt32(exactly: uid) else { continue }
            model.users[name]?.uids.insert(uid32)
        }
        for row in try db.query("SELECT user_id, role FROM kernel_access_grants") {
            guard case .integer(let id) = row[0], case .text(let role) = row[1], let name = names[id] else { continue }
            model.users[name]?.roles.insert(role)
        }
        var teams: [Int64: String] = [:]
        for row in try db.query("SELECT id, name FROM kernel_access_teams") {
            guard case .integer(let id) = row[0], case .text(let name) = row[1] else { continue }
            model.teams[name] = .init(id: id, name: name)
            teams[id] = name
            model.nextID = max(model.nextID, id + 1)
        }
        for row in try db.query("SELECT team_id, user_id FROM kernel_access_team_members") {
            guard case .integer(let team) = row[0], case .integer(let user) = row[1],
                  let teamName = teams[team], let userName = names[user] else { continue }
            model.teams[teamName]?.members.insert(userName)
        }
        var roles: [Int64: String] = [:]
        for row in try db.query("SELECT id, name, description, version FROM kernel_access_roles") {
            guard case .integer(let id) = row[0], case .text(let name) = row[1], case .text(let description) = row[2],
                  case .integer(let version) = row[3] else { continue }
            model.customRoles[name] = .init(id: id, role: AccessRole(name: name, description: description, grants: []),
                                            version: version)
            roles[id] = name
            model.nextID = max(model.nextID, id + 1)
        }
        for row in try db.query("SELECT role_id, pattern, scope FROM kernel_access_role_grants ORDER BY role_id, position") {
            guard case .integer(let id) = row[0], case .text(let pattern) = row[1], case .integer(let scope) = row[2],
                  let name = roles[id], let raw = Int(exactly: scope),
                  let recordScope = Crm_Kernel_V1_RecordScope(rawValue: raw) else { continue }
            model.customRoles[name]?.role.grants.append(RoleGrant(pattern: pattern, scope: recordScope))
        }
        var keys: [String: AccessIdempotency.Entry] = [:]
        for row in try db.query("SELECT method, key, fingerprint, response FROM kernel_access_idempotency") {
            guard case .text(let method) = row[0], case .text(let key) = row[1], case .blob(let fingerprint) = row[2],
                  case .blob(let response) = row[3] else { continue }
            keys[AccessIdempotency.slot(method, key)] = .init(fingerprint: fingerprint, response: response)
        }
        return (model, keys)
    }

    /// Runs `statements` in one write transaction and waits until it is
    /// durable. Throws UNAVAILABLE or INTERNAL when it did not commit.
    static func write(_ statements: [Statement], storage: Storage) throws {
        var failure: Error?
        let outcome = storage.writer.write(plugin: "kernel") { session in
            let sqlite = session.connection.sqlite
            do {
                try sqlite.authorizer.asKernel {
                    for statement in statements { try sqlite.query(statement.sql, statement.parameters) }
                }
                return true
            } catch {
                failure = error
                return false
            }
        }
        switch outcome {
        case .committed: return
        case .rolledBack: throw RPCError(.internal, "access write failed: \(failure.map { "\($0)" } ?? "rolled back")")
        case .failed(let error): throw RPCError(error.status == CRM_STATUS_UNAVAILABLE ? .unavailable : .internal, error.message)
        }
    }
}

/// Idempotency keys of Access creates: bound to the request's fingerprint
/// (its bytes without the key), kept with the first answer.
enum AccessIdempotency {
    struct Entry: Sendable {
        var fingerprint: [UInt8]
        var response: [UInt8]
    }

    static func slot(_ method: String, _ key: String) -> String { method + "\u{0}" + key }
}
