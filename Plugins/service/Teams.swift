import CRMPluginKit
import ServiceContract

/// Service teams: the roster of CRM users who work a team's queue. The
/// name is the kernel team's (whose members see each other's tickets);
/// the roster says who may pick the team's unassigned tickets, who a
/// ticket of the team may be assigned to, and (later) routing's pool.
enum Teams {
    static let writePermission = "service.team.write"

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "SetTeam", set)
        def.unary(Service.service + "GetTeam", get)
    }

    static func set(_ ctx: CallContext, _ req: Crm_Service_V1_SetTeamRequest) throws -> Crm_Service_V1_Team {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "a team's roster")
        try Validate.required(req.name, "name")
        try Check.name(req.name, "name")
        guard req.agents.count <= 500 else { throw PluginError.invalidArgument("agents has more than 500 entries") }
        var agents: [String] = []
        for (i, agent) in req.agents.enumerated() {
            try Validate.required(agent, "agents[\(i)]")
            try Check.name(agent, "agents[\(i)]")
            if agents.contains(agent) { throw PluginError.invalidArgument("agents[\(i)] repeats \"\(agent)\"") }
            agents.append(agent)
        }
        agents.sort()
        let db = try ctx.database
        let old = try load(db, req.name)
        if let old, old.agents == agents { return old }
        let now = UTCClock.nowMicros()
        try db.execute("""
            INSERT INTO service_teams (name, updated_us) VALUES (?, ?)
            ON CONFLICT (name) DO UPDATE SET updated_us = excluded.updated_us
            """, [.text(req.name), .integer(now)])
        try db.execute("DELETE FROM service_team_agents WHERE team = ?", [.text(req.name)])
        for agent in agents {
            try db.execute("INSERT INTO service_team_agents (team, agent) VALUES (?, ?)", [.text(req.name), .text(agent)])
        }
        var team = Crm_Service_V1_Team()
        team.name = req.name
        team.agents = agents
        team.updatedUnixUs = now
        try ctx.audit(AuditEntry(entity: "service.team", recordID: req.name, action: "set", changes: FieldChange.between(
            old: old.map { ["agents": $0.agents.joined(separator: ", ")] } ?? [:],
            new: agents.isEmpty ? [:] : ["agents": agents.joined(separator: ", ")])))
        return team
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetTeamRequest) throws -> Crm_Service_V1_Team {
        try Validate.required(req.name, "name")
        guard let team = try load(try ctx.database, req.name) else {
            throw PluginError.notFound("name: team \"\(req.name.prefix(80))\" does not exist")
        }
        return team
    }

    static func load(_ db: Database, _ name: String) throws -> Crm_Service_V1_Team? {
        guard let row = try db.query("SELECT updated_us FROM service_teams WHERE name = ?", [.text(name)]).first else { return nil }
        var team = Crm_Service_V1_Team()
        team.name = name
        team.updatedUnixUs = row.int(0)
        team.agents = try db.query("SELECT agent FROM service_team_agents WHERE team = ? ORDER BY agent", [.text(name)])
            .map { $0.text(0) }
        return team
    }

    static func exists(_ db: Database, _ name: String) throws -> Bool {
        try !db.query("SELECT 1 FROM service_teams WHERE name = ?", [.text(name)]).isEmpty
    }

    static func isAgent(_ db: Database, _ agent: String, of team: String) throws -> Bool {
        try !db.query("SELECT 1 FROM service_team_agents WHERE team = ? AND agent = ?", [.text(team), .text(agent)]).isEmpty
    }

    static func isAnyAgent(_ db: Database, _ agent: String) throws -> Bool {
        try !db.query("SELECT 1 FROM service_team_agents WHERE agent = ? LIMIT 1", [.text(agent)]).isEmpty
    }

    /// Checks a ticket's team and assignee: the team must exist, and the
    /// assignee must be on its roster (on some roster when no team): an
    /// assignee is an agent, and routing will pick among a team's agents.
    static func checkPlacement(_ db: Database, assignee: String, team: String, field: String) throws {
        try Check.name(assignee, "\(field)assignee")
        try Check.name(team, "\(field)team")
        if !team.isEmpty, try !exists(db, team) {
            throw PluginError.notFound("\(field)team: team \"\(team)\" does not exist (SetTeam makes it)")
        }
        guard !assignee.isEmpty else { return }
        if team.isEmpty {
            guard try isAnyAgent(db, assignee) else {
                throw PluginError.failedPrecondition("\(field)assignee: \(assignee) is on no team's roster")
            }
        } else if try !isAgent(db, assignee, of: team) {
            throw PluginError.failedPrecondition("\(field)assignee: \(assignee) is not an agent of team \"\(team)\"")
        }
    }
}
