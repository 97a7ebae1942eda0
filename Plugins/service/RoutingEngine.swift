import CRMPluginKit
import ServiceContract

typealias RoutingMode = Crm_Service_V1_RoutingMode

/// Picks the agent for a team's unassigned ticket and hands it over.
///
/// Who can take a ticket: an agent on the team's roster who is ONLINE and
/// below their capacity (unsolved tickets assigned to them in any team;
/// 0 is no limit). Every mode breaks its ties in round-robin order: the
/// agents after the team's `last_assigned` (by name), then from the start.
/// `last_assigned` is stored and advanced in the assigning transaction, so
/// the order is fair and survives restarts, and an agent who was away
/// resumes their place rather than jumping the queue.
enum RoutingEngine {
    struct Agent {
        let name: String
        var open: Int64
        let maxOpen: Int64
        let skills: Set<String>
        var hasRoom: Bool { maxOpen == 0 || open < maxOpen }
    }

    /// A routed team as the engine sees it during one call.
    struct Team {
        let name: String
        let mode: RoutingMode
        let requireSkills: Bool
        var lastAssigned: String
        /// The ONLINE agents of the roster, by name, with their open tickets.
        var agents: [Agent]
        /// Every skill some agent of the roster has (online or not).
        let rosterSkills: Set<String>

        var anyoneHasRoom: Bool { agents.contains { $0.hasRoom } }
    }

    static let online = Int64(Crm_Service_V1_Availability.online.rawValue)

    static func openTickets(_ db: Database, _ agent: String) throws -> Int64 {
        max(0, try db.query("SELECT open FROM service_agent_load WHERE agent = ?", [.text(agent)]).first?.int(0) ?? 0)
    }

    static func skills(_ text: String) -> [String] {
        text.isEmpty ? [] : text.split(separator: "\n").map(String.init)
    }

    /// The team if it routes (a mode other than MANUAL), with its agents now.
    static func load(_ db: Database, team name: String) throws -> Team? {
        guard !name.isEmpty, let row = try db.query(
            "SELECT mode, require_skills, last_assigned FROM service_team_routing WHERE team = ?", [.text(name)]).first,
              let mode = RoutingMode(rawValue: Int(truncatingIfNeeded: row.int(0))),
              mode != .manual, mode != .unspecified else { return nil }
        var agents: [Agent] = []
        var rosterSkills = Set<String>()
        // The roster with each agent's load in one query: routing runs on
        // every create into the team.
        for r in try db.query("""
            SELECT a.agent, g.availability, g.max_open, g.skills, l.open FROM service_team_agents a
            LEFT JOIN service_agents g ON g.agent = a.agent LEFT JOIN service_agent_load l ON l.agent = a.agent
            WHERE a.team = ? ORDER BY a.agent
            """, [.text(name)]) {
            let own = Set(skills(r[3].string ?? ""))
            rosterSkills.formUnion(own)
            guard r[1].int == online else { continue }
            agents.append(Agent(name: r.text(0), open: max(0, r[4].int ?? 0), maxOpen: r[2].int ?? 0, skills: own))
        }
        return Team(name: name, mode: mode, requireSkills: row.int(1) != 0, lastAssigned: row.text(2),
                    agents: agents, rosterSkills: rosterSkills)
    }

    /// A ticket's skills: its tags, and "<key>=<value>" (lower-cased) of its custom fields.
    static func skills(of t: Ticket) -> Set<String> {
        Set(t.tags).union(t.customFields.map { "\($0.key)=\($0.value.lowercased())" })
    }

    /// The index in `team.agents` of the agent who gets `t`, or nil when nobody can take it.
    static func pick(_ team: Team, _ t: Ticket) -> Int? {
        let eligible = team.agents.indices.filter { team.agents[$0].hasRoom }
        guard !eligible.isEmpty else { return nil }
        let last = team.lastAssigned
        let ordered = eligible.filter { team.agents[$0].name > last } + eligible.filter { team.agents[$0].name <= last }
        func leastOpen(_ pool: [Int]) -> Int? {
            guard let fewest = pool.map({ team.agents[$0].open }).min() else { return nil }
            return pool.first { team.agents[$0].open == fewest }
        }
        switch team.mode {
        case .roundRobin:
            return ordered.first
        case .leastOpen:
            return leastOpen(ordered)
        case .skills:
            let wanted = skills(of: t).intersection(team.rosterSkills)
            func score(_ i: Int) -> Int { team.agents[i].skills.intersection(wanted).count }
            var pool = ordered
            if team.requireSkills { pool = pool.filter { score($0) == wanted.count } }
            guard let best = pool.map(score).max() else { return nil }
            return leastOpen(pool.filter { score($0) == best })
        default:
            return nil
        }
    }

    static func modeName(_ mode: RoutingMode) -> String {
        switch mode {
        case .roundRobin: return "round robin"
        case .leastOpen: return "least open tickets"
        case .skills: return "skills"
        default: return "manual"
        }
    }

    /// Assigns `t` (unassigned, unsolved, in `team`) to the agent `pick`
    /// chooses; false when nobody can take it. Advances the round-robin
    /// position in this transaction.
    static func route(_ ctx: CallContext, _ db: Database, _ team: inout Team, _ t: inout Ticket) throws -> Bool {
        guard let i = pick(team, t) else { return false }
        let before = t
        t.assignee = team.agents[i].name
        try TicketChanges.commit(ctx, db, &t, before: before, action: "route", source: .routing,
                                 why: " by \(modeName(team.mode)) routing")
        team.agents[i].open += 1
        team.lastAssigned = team.agents[i].name
        try db.execute("UPDATE service_team_routing SET last_assigned = ? WHERE team = ?", [.text(team.lastAssigned), .text(team.name)])
        return true
    }

    static func routable(_ t: Ticket) -> Bool {
        t.assignee.isEmpty && !t.team.isEmpty && t.mergedIntoID == 0 && TicketStore.bucket(t.status) == 1
    }

    /// A routed create: the ticket as given and the mode that placed it.
    struct Placement {
        let unplaced: Ticket
        let mode: RoutingMode
    }

    /// A ticket about to be written for the first time: its agent is
    /// picked now, so the row is written once. An insert and then a
    /// reassignment wrote the ticket, its queue indexes and its SLA state
    /// twice, and published three events where two say it all. nil when
    /// it waits in the queue; the caller inserts it, then `record`s.
    static func placeNew(_ db: Database, _ t: inout Ticket) throws -> Placement? {
        guard routable(t), var team = try load(db, team: t.team), let i = pick(team, t) else { return nil }
        let unplaced = t
        t.assignee = team.agents[i].name
        if t.status == .new { TicketWorkflow.move(&t, to: .open, now: t.createdUnixUs) }
        team.lastAssigned = t.assignee
        try db.execute("UPDATE service_team_routing SET last_assigned = ? WHERE team = ?", [.text(team.lastAssigned), .text(team.name)])
        return Placement(unplaced: unplaced, mode: team.mode)
    }

    /// The audit and events of a new ticket, `t` as inserted: "create" (as
    /// it was given) and `created`; when routing placed it, also "route"
    /// (given → placed) and `assigned` with source ROUTING. The ticket is
    /// created OPEN, so there is no status_changed.
    static func record(_ ctx: CallContext, _ t: Ticket, _ placement: Placement?, summary: String) throws {
        var given = placement?.unplaced ?? t
        given.id = t.id
        given.slaDueUnixUs = t.slaDueUnixUs
        try ServiceAudit.ticket(ctx, "create", old: nil, new: given)
        if let placement {
            try ServiceAudit.ticket(ctx, "route", old: given, new: t)
        }
        try ServiceEvents.publish(ctx, "created", t, summary: summary)
        guard let placement else { return }
        let why = " by \(modeName(placement.mode)) routing"
        try ServiceEvents.publish(ctx, "assigned", t, summary: "assigned to \(t.assignee) in team \(t.team)" + why) {
            $0.previousAssignee = ""
            $0.previousTeam = t.team
            $0.source = .routing
        }
    }

    /// A ticket already written that joined a routed team's queue: routed
    /// now if someone can take it; otherwise it waits in the queue.
    @discardableResult
    static func routeNew(_ ctx: CallContext, _ db: Database, _ t: inout Ticket) throws -> Bool {
        guard routable(t), var team = try load(db, team: t.team) else { return false }
        return try route(ctx, db, &team, &t)
    }

    /// The first `limit` queued tickets of a team, in queue order.
    static func queued(_ db: Database, team: String, limit: Int) throws -> [Ticket] {
        try db.query("""
            SELECT \(TicketStore.columns) FROM service_tickets
            WHERE team = ? AND assignee = '' AND bucket = 1 ORDER BY urgency, id LIMIT ?
            """, [.text(team), .integer(Int64(limit))]).map(TicketStore.decode)
    }

    /// Routes up to `limit` queued tickets of a team in queue order
    /// (priority, then age); a ticket nobody can take (skills) is passed
    /// over and stays queued. `more`: `limit` tickets were looked at.
    static func routeQueued(_ ctx: CallContext, _ db: Database, team name: String, limit: Int) throws -> (routed: Int, more: Bool) {
        guard var team = try load(db, team: name), team.anyoneHasRoom else { return (0, false) }
        let tickets = try queued(db, team: name, limit: limit)
        var routed = 0
        for var t in tickets {
            guard team.anyoneHasRoom else { return (routed, false) }
            if try route(ctx, db, &team, &t) { routed += 1 }
        }
        return (routed, tickets.count == limit)
    }

    /// After an agent came online or got room: the queues of their teams,
    /// at most `budget` tickets in all (the job routes the rest).
    static func routeTeams(of agent: String, _ ctx: CallContext, _ db: Database, budget: Int = 100) throws -> Int {
        var routed = 0
        for row in try db.query("SELECT team FROM service_team_agents WHERE agent = ? ORDER BY team", [.text(agent)]) {
            guard routed < budget else { break }
            routed += try routeQueued(ctx, db, team: row.text(0), limit: budget - routed).routed
        }
        return routed
    }

    /// Whether routeQueued would assign something now (read only: the job
    /// asks before it takes the writer).
    static func hasWork(_ db: Database, team name: String, look: Int) throws -> Bool {
        guard let team = try load(db, team: name), team.anyoneHasRoom else { return false }
        return try queued(db, team: name, limit: look).contains { pick(team, $0) != nil }
    }
}
