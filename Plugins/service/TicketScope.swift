import CRMPluginKit

/// Record scope for tickets. A ticket's owner is its assignee. The kit's
/// scope gives the owners in reach (with `team`: the caller and everyone
/// sharing a kernel team with them), which decides assigned tickets as in
/// every module. An UNASSIGNED ticket has no owner, which the kernel's rule
/// would leave to scope `all` alone; but a team's unassigned tickets are
/// exactly what its agents must see to pick from ("unassigned in my
/// team"). So with scope `team` an unassigned ticket is also in reach when
/// the caller is on its team's service roster (SetTeam). Not the caller's
/// teammates' rosters: sharing a kernel team with a Billing agent does not
/// make Billing's queue yours. With `own` it stays out of reach (it is
/// nobody's own), and a ticket with neither assignee nor team is reached
/// with `all` only, as any record without an owner.
///
/// crmd tells plugins the owners in reach but not the caller's team names,
/// which is why the roster decides; docs/SERVICE.md says so.
enum TicketScope {
    /// The SQL condition on service_tickets (alias-free column names).
    static func condition(_ scope: RecordScope, prefix: String = "") -> (sql: String, parameters: [SQLValue]) {
        let owned = scope.condition(ownerColumn: "\(prefix)assignee")
        guard scope.reach == .team, let user = scope.user else { return owned }
        return ("(\(owned.sql) OR (\(prefix)assignee = '' AND \(prefix)team <> '' AND \(prefix)team IN "
                + "(SELECT team FROM service_team_agents WHERE agent = ?)))", owned.parameters + [.text(user)])
    }

    static func apply(_ scope: RecordScope, to filter: inout SQLFilter, prefix: String = "") {
        guard scope.reach != .all else { return }
        let (sql, parameters) = condition(scope, prefix: prefix)
        filter.add(sql, parameters)
    }

    /// Whether the scope reaches a ticket with this assignee and team.
    static func reaches(_ db: Database, _ scope: RecordScope, assignee: String, team: String) throws -> Bool {
        if scope.includes(owner: ownerOrNil(assignee)) { return true }
        guard scope.reach == .team, assignee.isEmpty, !team.isEmpty, let user = scope.user else { return false }
        return try Teams.isAgent(db, user, of: team)
    }

    static func reaches(_ db: Database, _ scope: RecordScope, _ ticket: Ticket) throws -> Bool {
        try reaches(db, scope, assignee: ticket.assignee, team: ticket.team)
    }

    /// PERMISSION_DENIED unless the ticket, as a write would leave it, is
    /// still in the caller's reach: a write may not put a ticket where the
    /// writer can no longer see it.
    static func checkResult(_ db: Database, _ scope: RecordScope, _ ticket: Ticket, _ what: String) throws {
        guard try reaches(db, scope, ticket) else {
            let whereTo = ticket.assignee.isEmpty
                ? (ticket.team.isEmpty ? "no assignee and no team" : "team \"\(ticket.team)\" unassigned, a roster you are not on")
                : "assignee \(ticket.assignee)"
            throw PluginError(.permissionDenied, "\(what) may not be given \(whereTo): outside your record scope")
        }
    }

    /// Shared configuration (teams, custom-field definitions) has no owner,
    /// so, as any ownerless record, only scope `all` may change it: a
    /// team-scoped agent may not put themselves on another team's roster.
    static func checkConfigWritable(_ ctx: CallContext, permission: String, _ what: String) throws {
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "\(what) is shared configuration: changing it needs \(permission) at scope all")
        }
    }
}
