import CRMPluginABI

/// How far the caller reaches among an entity's records (feature
/// "crm.access.v1"): the one helper every read path uses, so a record out
/// of scope is never returned, counted or exported.
///
/// A record is in scope when its owner is one of `owners` (reach `own`:
/// the caller; `team`: the caller and everyone sharing one of their
/// teams), or always with reach `all`. A record without an owner is in
/// reach `all` only.
public struct RecordScope: Sendable, Equatable {
    public enum Reach: Int32, Sendable { case none = 0, own, team, all }

    public let reach: Reach
    /// With `own` or `team`: the owners in scope, the caller first.
    public let owners: [String]

    public init(reach: Reach, owners: [String] = []) {
        self.reach = reach
        self.owners = reach == .own || reach == .team ? owners : []
    }

    /// Every record: crmd's own uid and root, event deliveries, a host
    /// without record scope.
    public static let everything = RecordScope(reach: .all)

    /// The CRM user the scope belongs to, when it is limited.
    public var user: String? { owners.first }

    public func includes(owner: String?) -> Bool {
        switch reach {
        case .all: return true
        case .none: return false
        case .own, .team: return owner.map { owners.contains($0) } ?? false
        }
    }

    /// The condition on `ownerColumn` that keeps only records in scope,
    /// with its parameters: "1" for `all`, "0" for `none`.
    public func condition(ownerColumn: String) -> (sql: String, parameters: [SQLValue]) {
        switch reach {
        case .all: return ("1", [])
        case .none: return ("0", [])
        case .own, .team:
            if owners.isEmpty { return ("0", []) }
            let marks = Array(repeating: "?", count: owners.count).joined(separator: ", ")
            return ("\(ownerColumn) IN (\(marks))", owners.map { .text($0) })
        }
    }

    /// Adds the scope to a filter (nothing for `all`).
    public func apply(to filter: inout SQLFilter, ownerColumn: String) {
        guard reach != .all else { return }
        let (sql, parameters) = condition(ownerColumn: ownerColumn)
        filter.add(sql, parameters)
    }

    /// Throws NOT_FOUND (`what`, e.g. "person 12") unless the record is in
    /// scope: a read must not tell an out-of-scope record from a missing one.
    public func checkReadable(owner: String?, _ what: @autoclosure () -> String) throws {
        guard includes(owner: owner) else { throw PluginError(.notFound, "no \(what())") }
    }

    /// Throws PERMISSION_DENIED unless the record is in scope for a write.
    public func checkWritable(owner: String?, _ what: @autoclosure () -> String) throws {
        guard includes(owner: owner) else {
            throw PluginError(.permissionDenied, "\(what()) is outside your record scope")
        }
    }

    /// The owner a new or changed record gets: `requested`, or the caller
    /// when none is given and the scope is limited. PERMISSION_DENIED when
    /// `requested` would put the record out of the caller's scope.
    public func owner(for requested: String, _ what: @autoclosure () -> String) throws -> String {
        if requested.isEmpty { return reach == .all ? "" : (user ?? "") }
        guard includes(owner: requested) else {
            throw PluginError(.permissionDenied, "\(what()) may not be given to owner \(requested): outside your record scope")
        }
        return requested
    }
}

/// A stored owner column as the scope, the audit trail and events see it:
/// "" is no owner.
public func ownerOrNil(_ owner: String) -> String? { owner.isEmpty ? nil : owner }

extension SQLFilter {
    /// Adds `condition` with an array of parameters.
    public mutating func add(_ condition: String, _ values: [SQLValue]) {
        appendCondition(condition, values)
    }
}

extension CallContext {
    /// The caller's scope for the running method's own permission.
    public var scope: RecordScope { scope(for: nil) }

    /// The caller's scope for `permission` (another entity's, e.g. a
    /// timeline reading opportunities); `nil` means the method's own.
    public func scope(for permission: String?) -> RecordScope {
        guard let access = KitState.access else { return .everything }
        var out = crm_record_scope()
        out.struct_size = UInt32(MemoryLayout<crm_record_scope>.size)
        let status = permission.map { name in name.withCString { access.pointee.scope!(call, $0, &out) } }
            ?? access.pointee.scope!(call, nil, &out)
        // A host that cannot answer grants nothing rather than everything.
        guard status == 0, let reach = RecordScope.Reach(rawValue: out.reach) else { return RecordScope(reach: .none) }
        var owners: [String] = []
        if let list = out.owners {
            for i in 0..<out.owner_count { if let name = list[i] { owners.append(String(cString: name)) } }
        }
        return RecordScope(reach: reach, owners: owners)
    }
}
