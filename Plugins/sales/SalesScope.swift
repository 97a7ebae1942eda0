import CRMPluginKit

/// Record scope in sales. Leads, opportunities and activities are each
/// scoped by their own `owner` column: a record outside the caller's scope
/// is NOT_FOUND on a read (in the words used for a missing id, so the two
/// cannot be told apart), absent from lists and from every report's rows
/// and sums, and PERMISSION_DENIED on a write. An activity follows its own
/// owner, not the lead or opportunity it is attached to: it is the work of
/// whoever owns it, and a rep may log a call on a deal they can see without
/// the deal's owner seeing the rep's notes. Pipelines and round-robin teams
/// are shared configuration without an owner; their permission is enough.
enum SalesScope {
    static let leadRead = "sales.lead.read"
    static let opportunityRead = "sales.opportunity.read"
    static let opportunityWrite = "sales.opportunity.write"

    /// NOT_FOUND for a record out of `scope`, exactly as for a missing one.
    static func readable(_ scope: RecordScope, owner: String, _ missing: @autoclosure () -> PluginError) throws {
        guard scope.includes(owner: owner) else { throw missing() }
    }

    /// An idempotent create's retry: the record made under the key, unless
    /// another caller made it out of this one's scope. Then the key counts
    /// as used by another request, and the record stays unseen.
    static func retried<Record>(_ record: Record, owner: String, _ scope: RecordScope,
                                method: String, key: String) throws -> Record {
        guard scope.includes(owner: owner) else { throw IdempotencyKeys.mismatch(method: method, key: key) }
        return record
    }

    /// A round-robin pick must stay in the caller's scope: a rep whose scope
    /// is their own records may not hand a lead to a teammate (it would then
    /// be a record they created and can no longer see). The pick is refused,
    /// not skipped, so the team's turn order stays what SetTeam made it; the
    /// refusal rolls back the turn's advance with the rest of the call.
    static func checkAssignable(_ scope: RecordScope, member: String, team: String) throws {
        guard scope.includes(owner: member) else {
            throw PluginError(.permissionDenied, "assign_to_team: it is \(member)'s turn in team \"\(team)\", "
                + "outside your record scope; give the lead an owner instead")
        }
    }
}
