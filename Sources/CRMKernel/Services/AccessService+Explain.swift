import CRMKernelContract
import CRMWire

/// Access/Explain: the access check and the record scope, decided again
/// for a named user, with the role, pattern and scope that decided.
extension AccessService {
    var explainMethod: KernelMethod {
        Self.method("Explain", Crm_Kernel_V1_ExplainRequest.self) { [access, router, storage] req in
            guard !req.user.isEmpty else { throw RPCError(.invalidArgument, "user is required") }
            guard !req.method.isEmpty else { throw RPCError(.invalidArgument, "method is required") }
            let record = try Self.parseRecord(req.record)
            guard let principal = access.snapshot().byName[req.user] else {
                throw RPCError(.notFound, "no user named \(req.user)")
            }
            guard let route = router.route(req.method) else { throw RPCError(.notFound, "no method named \(req.method)") }
            var answer = Crm_Kernel_V1_ExplainResponse()
            answer.permission = route.semantics.permission
            if AccessControl.isOpen(service: route.service) {
                answer.allowed = true
                answer.scope = .all
                answer.reason = "allowed: \(route.service) is open to every caller"
                return answer
            }
            if principal.disabled {
                answer.disabled = true
                answer.reason = "denied: user \(req.user) is disabled"
                return answer
            }
            guard let decided = Self.decidingGrant(principal.rights, route.semantics.permission) else {
                answer.reason = route.semantics.permission.isEmpty
                    ? "denied: \(req.method) declares no permission, so only administrators may call it, and no role of \(req.user) grants \"*\""
                    : "denied: no role of \(req.user) grants \(route.semantics.permission)"
                return answer
            }
            answer.role = decided.role
            answer.pattern = decided.grant.pattern
            answer.scope = decided.grant.scope
            let granted = "role \(decided.role) grants \(decided.grant.pattern) with scope \(Self.name(decided.grant.scope))"
            guard let record else {
                answer.allowed = true
                answer.reason = "allowed: \(granted)"
                return answer
            }
            let owner = try storage.flatMap { try Self.latestOwner(record.entity, record.id, $0) }
            answer.recordKnown = owner != nil
            answer.recordOwner = (owner ?? nil) ?? ""
            let inReach = decided.grant.scope == .all || (owner ?? nil).map {
                (decided.grant.scope == .own ? principal.ownOwners : principal.teamOwners).names.contains($0)
            } == true
            answer.allowed = inReach
            let what = "\(record.entity):\(record.id)"
            switch (inReach, owner) {
            case (true, _) where decided.grant.scope == .all:
                answer.reason = "allowed: \(granted), which reaches every record"
            case (true, let owner?):
                answer.reason = "allowed: \(granted); \(what) is owned by \(owner ?? ""), within it"
            case (false, nil):
                answer.reason = "denied: \(granted), but the audit trail knows no owner of \(what), so crmd cannot tell it is within it"
            case (false, let owner?):
                answer.reason = "denied: \(granted), and \(what) is " + (owner.map { "owned by \($0)" } ?? "owned by no one")
                    + ", outside it: a read answers NOT_FOUND, a write PERMISSION_DENIED"
            default:
                answer.reason = "allowed: \(granted)"
            }
            return answer
        }
    }

    /// The grant with the widest scope among those matching `permission`
    /// (the one the scope comes from); an empty permission needs "*".
    private static func decidingGrant(_ rights: Rights, _ permission: String) -> (role: String, grant: RoleGrant)? {
        if permission.isEmpty { return rights.grants.first { $0.grant.pattern == "*" } }
        return rights.grants.filter { PermissionPattern.matches($0.grant.pattern, permission) }
            .max { $0.grant.scope.rawValue < $1.grant.scope.rawValue }
    }

    private static func parseRecord(_ text: String) throws -> (entity: String, id: String)? {
        guard !text.isEmpty else { return nil }
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.index(after: colon) != text.endIndex else {
            throw RPCError(.invalidArgument, "record must be <entity>:<id>, e.g. contacts.person:42, not \"\(text)\"")
        }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The record's owner after its latest audited write: nil when the
    /// trail has no entry for it, .some(nil) when that entry names no owner.
    private static func latestOwner(_ entity: String, _ id: String, _ storage: Storage) throws -> String?? {
        let session = storage.readers.checkout(plugin: "kernel")
        defer { storage.readers.checkin(session) }
        let sqlite = session.connection.sqlite
        let rows = try sqlite.authorizer.asKernel {
            try sqlite.query("""
                SELECT owner FROM kernel_audit WHERE entity = ? AND record_id = ? AND action IS NOT NULL
                ORDER BY id DESC LIMIT 1
                """, [.text(entity), .text(id)])
        }
        guard let row = rows.first else { return nil }
        return .some(row.first?.textValue)
    }

    private static func name(_ scope: Crm_Kernel_V1_RecordScope) -> String {
        switch scope {
        case .own: "OWN"
        case .team: "TEAM"
        case .all: "ALL"
        default: "UNSPECIFIED"
        }
    }
}
