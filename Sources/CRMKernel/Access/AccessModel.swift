import CRMKernelContract
import CRMWire
import Foundation

/// Everything the Access service keeps, as one value: small (users and
/// teams of one organisation), held whole in memory, written through to
/// the kernel_access_* tables (AccessStore).
struct AccessModel: Sendable {
    struct User: Sendable {
        var id: Int64
        var name: String
        var displayName: String
        var uids: Set<UInt32> = []
        var roles: Set<String> = []
        var version: Int64 = 1
        var disabled = false
    }

    /// A role an administrator created (first-party roles are code: FirstPartyRoles).
    struct CustomRole: Sendable {
        var id: Int64
        var role: AccessRole
        var version: Int64 = 1
    }

    struct Team: Sendable {
        var id: Int64
        var name: String
        var members: Set<String> = []
    }

    var users: [String: User] = [:]
    var teams: [String: Team] = [:]
    var customRoles: [String: CustomRole] = [:]
    var nextID: Int64 = 1

    /// A role by name: first-party or custom.
    func role(named name: String) -> AccessRole? { FirstPartyRoles.byName[name] ?? customRoles[name]?.role }

    /// The user `uid` is bound to.
    func user(boundTo uid: UInt32) -> User? { users.values.first { $0.uids.contains(uid) } }

    func existingUser(_ name: String) throws -> User {
        guard let user = users[name] else { throw RPCError(.notFound, "no user named \(name)") }
        return user
    }

    func message(_ user: User) -> Crm_Kernel_V1_User {
        .with {
            $0.name = user.name
            $0.displayName = user.displayName
            $0.uids = user.uids.sorted()
            $0.roles = user.roles.sorted()
            $0.teams = teams.values.filter { $0.members.contains(user.name) }.map(\.name).sorted()
            $0.version = user.version
            $0.disabled = user.disabled
        }
    }

    func message(_ team: Team) -> Crm_Kernel_V1_Team {
        .with { $0.name = team.name; $0.members = team.members.sorted() }
    }

    /// A user or team name: 1-64 of [a-z0-9._-], starting with a letter or digit.
    static func checkName(_ name: String, field: String) throws {
        let bytes = Array(name.utf8)
        let valid = (1...64).contains(bytes.count) && bytes.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x5F || b == 0x2D
        } && !(bytes.first == 0x2E || bytes.first == 0x5F || bytes.first == 0x2D)
        guard valid else {
            throw RPCError(.invalidArgument, "\(field) must be 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
        }
    }

    /// Uids that are administrators by bootstrap and never bound; and the
    /// value that is no uid at all ((uid_t)-1).
    static func checkBindable(_ uid: UInt32, crmdUID: UInt32) throws {
        if uid == 0 || uid == crmdUID {
            throw RPCError(.invalidArgument, "uid \(uid) is root or crmd's own: always an administrator, never bound")
        }
        if uid == UInt32.max { throw RPCError(.invalidArgument, "uid \(uid) is not a valid uid") }
    }
}

/// Who a call acts for, resolved from the model: built for every user on
/// each Access write, then only read.
final class Principal: @unchecked Sendable {
    /// The CRM user; nil for crmd's own uid and root when no proxy asserted one.
    let user: String?
    let rights: Rights
    /// The uid of the trusted proxy that asserted `user`; -1 otherwise.
    let proxyUID: Int64
    /// The owners in reach at each scope, as C arrays for crm_record_scope:
    /// `own` is the user alone, `team` the user then every member of their
    /// teams. Immutable; freed with the principal, which a call holds.
    let ownOwners: OwnerList
    let teamOwners: OwnerList

    /// A disabled user: every call acting for them is refused.
    let disabled: Bool

    init(user: String?, rights: Rights, proxyUID: Int64 = -1, teamMates: [String] = [], disabled: Bool = false) {
        self.user = user
        self.rights = rights
        self.proxyUID = proxyUID
        self.disabled = disabled
        ownOwners = OwnerList(user.map { [$0] } ?? [])
        teamOwners = OwnerList((user.map { [$0] } ?? []) + teamMates.filter { $0 != user })
    }

    private init(copying other: Principal, proxyUID: Int64) {
        user = other.user
        rights = other.rights
        self.proxyUID = proxyUID
        disabled = other.disabled
        ownOwners = other.ownOwners
        teamOwners = other.teamOwners
    }

    func asserted(by proxy: UInt32) -> Principal { Principal(copying: self, proxyUID: Int64(proxy)) }

    /// How far this principal reaches among the records `permission` covers.
    func reach(for permission: String) -> Crm_Kernel_V1_RecordScope {
        user == nil ? .all : rights.reach(for: permission)
    }

    /// crmd's own uid and root, by bootstrap.
    static let system = Principal(user: nil, rights: .administrator)
}

/// Owner names kept as NUL-terminated C strings for the life of the list.
final class OwnerList: @unchecked Sendable {
    let names: [String]
    let pointers: UnsafeMutablePointer<UnsafePointer<CChar>?>

    init(_ names: [String]) {
        self.names = names
        pointers = .allocate(capacity: max(names.count, 1))
        for (i, name) in names.enumerated() { pointers[i] = UnsafePointer(strdup(name)) }
    }

    deinit {
        for i in 0..<names.count { free(UnsafeMutableRawPointer(mutating: pointers[i])) }
        pointers.deallocate()
    }
}

/// The model compiled for the hot path: uid -> principal, name -> principal.
final class AccessSnapshot: Sendable {
    let version: UInt64
    let byUID: [UInt32: Principal]
    let byName: [String: Principal]

    init(model: AccessModel, version: UInt64) {
        self.version = version
        var byUID: [UInt32: Principal] = [:]
        var byName: [String: Principal] = [:]
        for user in model.users.values {
            let grants = user.roles.sorted().compactMap { model.role(named: $0) }.flatMap { role in
                role.grants.map { (role: role.name, grant: $0) }
            }
            let teamMates = Set(model.teams.values.filter { $0.members.contains(user.name) }.flatMap(\.members))
            let principal = Principal(user: user.name, rights: Rights(grants: grants), teamMates: teamMates.sorted(),
                                      disabled: user.disabled)
            byName[user.name] = principal
            for uid in user.uids { byUID[uid] = principal }
        }
        self.byUID = byUID
        self.byName = byName
    }
}
