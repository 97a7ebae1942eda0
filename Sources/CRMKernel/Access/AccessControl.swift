import CRMWire
import Foundation
import Synchronization

/// Decides who a call acts for and whether it may run, before dispatch.
///
/// The hot path is lock-free: the current `AccessSnapshot` is published
/// with a version counter; a connection keeps the snapshot it last used and
/// takes the lock only when the counter moved (after an Access write).
/// Writes are serialized by `writeLock`, persisted (AccessStore), and only
/// then installed, so a call never sees a change that is not durable.
///
/// Thread safety: every member may be used from any thread.
final class AccessControl: @unchecked Sendable {
    /// The metadata key a trusted proxy names the user it acts for with.
    static let userMetadataKey = "crm-user"
    /// Health and Reflection: every caller may use them, known or not.
    /// Two comparisons, no hashing: this runs on every call.
    static func isOpen(service: String) -> Bool {
        service == "crm.kernel.v1.Health" || service == "crm.kernel.v1.Reflection"
    }

    let crmdUID: UInt32
    let trustedProxies: Set<UInt32>
    private let storage: Storage?
    private let published = Atomic<UInt64>(1)
    private let current: Mutex<AccessSnapshot>
    /// The model and idempotency entries; touched only under `writeLock`.
    private var model: AccessModel
    private var keys: [String: AccessIdempotency.Entry]
    private let writeLock = NSLock()

    init(model: AccessModel, keys: [String: AccessIdempotency.Entry], storage: Storage?,
         trustedProxies: Set<UInt32>, crmdUID: UInt32 = getuid()) {
        self.model = model
        self.keys = keys
        self.storage = storage
        self.trustedProxies = trustedProxies
        self.crmdUID = crmdUID
        current = Mutex(AccessSnapshot(model: model, version: 1))
    }

    /// The version of the newest snapshot (one atomic load).
    var version: UInt64 { published.load(ordering: .acquiring) }

    /// The newest snapshot; callers keep it until `version` moves.
    func snapshot() -> AccessSnapshot { current.withLock { $0 } }

    /// Who a socket call acts for, or nil for an unknown caller.
    /// `assertedUser` is the `crm-user` metadata value, if any: believed
    /// only from a trusted proxy's uid, ignored from anyone else.
    func principal(uid: UInt32, assertedUser: String?, in snapshot: AccessSnapshot) throws -> Principal? {
        if let assertedUser, trustedProxies.contains(uid) {
            guard let user = snapshot.byName[assertedUser] else {
                throw RPCError(.permissionDenied, "\(Self.userMetadataKey) \(assertedUser) is not a CRM user")
            }
            return user.asserted(by: uid)
        }
        if uid == 0 || uid == crmdUID { return .system }
        return snapshot.byUID[uid]
    }

    /// Nil when `principal` may call a method of `service` needing
    /// `permission`; else the PERMISSION_DENIED to answer. An undeclared
    /// permission (a legacy plugin's method) is for administrators only.
    static func denial(_ principal: Principal?, service: String, permission: String, uid: Int64) -> RPCError? {
        if isOpen(service: service) { return nil }
        guard let principal else {
            return RPCError(.permissionDenied, "uid \(uid) is not bound to a CRM user; an administrator must bind it")
        }
        if principal.disabled { return RPCError(.permissionDenied, "\(who(principal)) is disabled") }
        if permission.isEmpty {
            return principal.rights.everything ? nil : RPCError(
                .permissionDenied, "\(who(principal)) lacks administrator: the method declares no permission")
        }
        return principal.rights.allows(permission) ? nil
            : RPCError(.permissionDenied, "\(who(principal)) lacks permission \(permission)")
    }

    private static func who(_ principal: Principal) -> String {
        principal.user.map { "user \($0)" } ?? "caller"
    }

    // MARK: writes

    /// Runs `change` on a copy of the model under the write lock; persists
    /// its statements, then installs the copy, publishes a new snapshot and
    /// runs `committed` (still under the lock).
    func write<T>(_ change: (inout AccessModel) throws -> (T, [AccessStore.Statement]),
                  committed: () -> Void = {}) throws -> T {
        writeLock.lock()
        defer { writeLock.unlock() }
        var copy = model
        let (result, statements) = try change(&copy)
        if !statements.isEmpty {
            guard let storage else { throw RPCError(.unavailable, "crmd has no database") }
            try AccessStore.write(statements, storage: storage)
            model = copy
            install()
            committed()
        }
        return result
    }

    /// An idempotent create: a retry with the same key and request gets the
    /// first answer, the same key with another request FAILED_PRECONDITION.
    func create(method: String, key: String, fingerprint: [UInt8],
                _ change: (inout AccessModel) throws -> ([UInt8], [AccessStore.Statement])) throws -> [UInt8] {
        guard !key.isEmpty else { return try write(change) }
        let slot = AccessIdempotency.slot(method, key)
        var first: [UInt8] = []
        return try write({ model in
            if let earlier = keys[slot] {
                guard earlier.fingerprint == fingerprint else {
                    throw RPCError(.failedPrecondition, "idempotency_key \(key) was used with another request")
                }
                return (earlier.response, [])
            }
            let (response, statements) = try change(&model)
            first = response
            let record = AccessStore.Statement(
                "INSERT INTO kernel_access_idempotency (method, key, fingerprint, response) VALUES (?, ?, ?, ?)",
                [.text(method), .text(key), .blob(fingerprint), .blob(response)])
            return (response, statements + [record])
        }, committed: { keys[slot] = .init(fingerprint: fingerprint, response: first) })
    }

    /// Reads the model (for lists).
    func read<T>(_ body: (AccessModel) throws -> T) rethrows -> T {
        writeLock.lock()
        defer { writeLock.unlock() }
        return try body(model)
    }

    private func install() {
        let next = published.load(ordering: .relaxed) + 1
        let snapshot = AccessSnapshot(model: model, version: next)
        current.withLock { $0 = snapshot }
        published.store(next, ordering: .releasing)
    }
}
