import CRMKernelContract
import CRMKernelCore
import CRMWire
import Foundation

/// What one `Events/Subscribe` may send: its topic patterns and the
/// caller's right to read each topic and record (EventVisibility). Decisions
/// are cached per topic for the principal they were made for; when the
/// Access version moves the caller is resolved again from the newest
/// snapshot, as at subscribe time, and the cache starts afresh.
///
/// Used by the stream's own thread only.
final class EventFilter {
    /// Sends every event with no lookup: crmd's own uid or root (or a user
    /// with every permission at scope all) and no topic patterns.
    private(set) var passesAll = false
    /// Why the stream must end (PERMISSION_DENIED), once it must.
    private(set) var denial: RPCError?

    private let access: AccessControl
    private let uid: UInt32
    private let assertedUser: String?
    /// The method's own permission, checked again after each Access change.
    private let permission: String
    private let patterns: [TopicPattern]
    private let readPermissions: [String: String]
    /// False for crmd's own uid and root without a crm-user: always system.
    private let follows: Bool
    private var principal: Principal
    private var version: UInt64
    private var cache: [TopicKey: EventVisibility] = [:]
    /// The bytes the cache's keys point at, owned here.
    private var keyStorage: [UnsafeMutableRawBufferPointer] = []
    /// Topics are few (each a declared one); past this, decide uncached.
    private static let maxCached = 4096

    init(principal: Principal, version: UInt64, uid: UInt32, assertedUser: String?, permission: String,
         patterns: [TopicPattern], readPermissions: [String: String], access: AccessControl) {
        self.principal = principal
        self.version = version
        self.uid = uid
        self.assertedUser = assertedUser
        self.permission = permission
        self.patterns = patterns
        self.readPermissions = readPermissions
        self.access = access
        follows = assertedUser != nil || !(uid == 0 || uid == access.crmdUID)
        passesAll = patterns.isEmpty && Self.seesEverything(principal)
    }

    deinit { clearCache() }

    /// False once the stream must end (see `denial`). One atomic load
    /// unless Access changed since the last call.
    func isCurrent() -> Bool {
        guard denial == nil else { return false }
        guard follows, access.version != version else { return true }
        let snapshot = access.snapshot()
        version = snapshot.version
        do {
            let next = try access.principal(uid: uid, assertedUser: assertedUser, in: snapshot)
            if let refusal = AccessControl.denial(next, service: EventsService.name, permission: permission,
                                                  uid: Int64(uid)) {
                denial = refusal
                return false
            }
            principal = next ?? principal
        } catch let error as RPCError {
            denial = error
            return false
        } catch {
            denial = RPCError(.permissionDenied, "access check failed")
            return false
        }
        clearCache()
        passesAll = patterns.isEmpty && Self.seesEverything(principal)
        return true
    }

    /// The decision for one topic, given as bytes in SQLite's memory.
    func visibility(topic: UnsafeRawBufferPointer) -> EventVisibility {
        if let cached = cache[TopicKey(bytes: topic)] { return cached }
        let text = String(decoding: topic, as: UTF8.self)
        let decided = decide(text)
        guard cache.count < Self.maxCached else { return decided }
        let owned = UnsafeMutableRawBufferPointer.allocate(byteCount: max(topic.count, 1), alignment: 1)
        if topic.count > 0 { owned.copyMemory(from: topic) }
        keyStorage.append(owned)
        cache[TopicKey(bytes: UnsafeRawBufferPointer(rebasing: owned[0..<topic.count]))] = decided
        return decided
    }

    private func decide(_ topic: String) -> EventVisibility {
        if !patterns.isEmpty && !TopicPattern.any(patterns, match: topic) { return .none }
        let principal = principal
        let system = principal.user == nil
        return EventVisibility.decide(
            readPermission: readPermissions[topic], isAdministrator: system || principal.rights.everything,
            allows: { system || principal.rights.allows($0) },
            reach: { permission in
                switch principal.reach(for: permission) {
                case .all: .all
                case .team: .team
                case .own: .own
                default: .none
                }
            },
            own: principal.ownOwners.names, team: principal.teamOwners.names)
    }

    /// Every permission at scope all: nothing to decide.
    private static func seesEverything(_ principal: Principal) -> Bool {
        principal.user == nil || principal.rights.grants.contains { $0.grant.pattern == "*" && $0.grant.scope == .all }
    }

    private func clearCache() {
        cache.removeAll()
        for storage in keyStorage { storage.deallocate() }
        keyStorage.removeAll()
    }
}

/// A topic's bytes, not owned: a lookup key points into SQLite's column
/// memory, a stored key into the filter's `keyStorage`.
private struct TopicKey: Hashable {
    let bytes: UnsafeRawBufferPointer

    func hash(into hasher: inout Hasher) { hasher.combine(bytes: bytes) }

    static func == (a: TopicKey, b: TopicKey) -> Bool {
        guard a.bytes.count == b.bytes.count else { return false }
        guard let x = a.bytes.baseAddress, let y = b.bytes.baseAddress else { return true }  // both empty
        return memcmp(x, y, a.bytes.count) == 0
    }
}
