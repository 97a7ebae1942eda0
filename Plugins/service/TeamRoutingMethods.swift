import CRMPluginKit
import ServiceContract
import SwiftProtobuf

typealias TeamRouting = Crm_Service_V1_TeamRouting

/// SetTeamRouting and GetTeamRouting: a team's routing mode, skills rule
/// and escalation rules, shared configuration beside its roster.
enum TeamRoutingMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "SetTeamRouting", set)
        def.unary(Service.service + "GetTeamRouting", get)
    }

    struct Stored {
        var mode: RoutingMode
        var requireSkills: Bool
        var escalations: [Crm_Service_V1_EscalationRule]
        var lastAssigned: String
        var version: Int64
        var updated: Int64
    }

    static func stored(_ db: Database, _ team: String) throws -> Stored? {
        guard let r = try db.query("""
            SELECT mode, require_skills, definition, last_assigned, version, updated_us FROM service_team_routing WHERE team = ?
            """, [.text(team)]).first else { return nil }
        let definition = r[2].bytes.flatMap { try? TeamRouting(serializedBytes: $0) } ?? TeamRouting()
        return Stored(mode: RoutingMode(rawValue: Int(truncatingIfNeeded: r.int(0))) ?? .manual, requireSkills: r.int(1) != 0,
                      escalations: definition.escalations, lastAssigned: r.text(3), version: r.int(4), updated: r.int(5))
    }

    static func set(_ ctx: CallContext, _ req: Crm_Service_V1_SetTeamRoutingRequest) throws -> TeamRouting {
        try TicketScope.checkConfigWritable(ctx, permission: Teams.writePermission, "a team's routing")
        var r = req.routing
        try Validate.required(r.team, "routing.team")
        try Check.name(r.team, "routing.team")
        try Check.known(r.mode.rawValue, 1...4, "routing.mode")
        if r.requireSkills && r.mode != .skills {
            throw PluginError.invalidArgument("routing.require_skills applies to ROUTING_MODE_SKILLS only")
        }
        let db = try ctx.database
        guard try Teams.exists(db, r.team) else {
            throw PluginError.notFound("routing.team: team \"\(r.team)\" does not exist (SetTeam makes it)")
        }
        try Escalations.validate(db, &r.escalations, team: r.team)
        let old = try stored(db, r.team)
        try Validate.expectedVersion(req.expectedVersion, old?.version ?? 0, noun: "routing of team \(r.team)")
        if let old, old.mode == r.mode, old.requireSkills == r.requireSkills, old.escalations == r.escalations {
            return try view(db, r.team)
        }
        var definition = TeamRouting()
        definition.escalations = r.escalations
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let now = UTCClock.nowMicros()
        try db.execute("""
            INSERT INTO service_team_routing (team, mode, require_skills, definition, last_assigned, version, updated_us)
            VALUES (?, ?, ?, ?, '', 1, ?)
            ON CONFLICT (team) DO UPDATE SET mode = excluded.mode, require_skills = excluded.require_skills,
                definition = excluded.definition, version = service_team_routing.version + 1, updated_us = excluded.updated_us
            """, [.text(r.team), .integer(Int64(r.mode.rawValue)), .integer(r.requireSkills ? 1 : 0),
                  .blob(try definition.serializedBytes(options: options)), .integer(now)])
        try ctx.audit(AuditEntry(entity: "service.team_routing", recordID: r.team, action: "set", changes: FieldChange.between(
            old: old.map { fields($0.mode, $0.requireSkills, $0.escalations) } ?? [:],
            new: fields(r.mode, r.requireSkills, r.escalations))))
        // A team that starts routing hands out what waits in its queue.
        _ = try RoutingEngine.routeQueued(ctx, db, team: r.team, limit: 100)
        return try view(db, r.team)
    }

    private static func fields(_ mode: RoutingMode, _ requireSkills: Bool, _ rules: [Crm_Service_V1_EscalationRule]) -> [String: String] {
        var out = ["mode": "ROUTING_MODE_" + "\(mode)".uppercasedSnake]
        if requireSkills { out["require_skills"] = "true" }
        if !rules.isEmpty { out["escalations"] = rules.map(Escalations.describe).joined(separator: "; ") }
        return out
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetTeamRoutingRequest) throws -> TeamRouting {
        try Validate.required(req.team, "team")
        let db = try ctx.database
        guard try Teams.exists(db, req.team) else {
            throw PluginError.notFound("team: team \"\(req.team.prefix(80))\" does not exist")
        }
        return try view(db, req.team)
    }

    /// The routing as GetTeamRouting shows it, with the roster's agents.
    static func view(_ db: Database, _ team: String) throws -> TeamRouting {
        var out = TeamRouting()
        out.team = team
        if let s = try stored(db, team) {
            out.mode = s.mode
            out.requireSkills = s.requireSkills
            out.escalations = s.escalations
            out.lastAssigned = s.lastAssigned
            out.version = s.version
            out.updatedUnixUs = s.updated
        } else {
            out.mode = .manual
        }
        out.agents = try db.query("SELECT agent FROM service_team_agents WHERE team = ? ORDER BY agent", [.text(team)])
            .map { try AgentMethods.load(db, $0.text(0)) }
        return out
    }
}

extension String {
    /// "roundRobin" -> "ROUND_ROBIN", for enum names in audit values.
    var uppercasedSnake: String {
        var out = ""
        for c in self {
            if c.isUppercase && !out.isEmpty { out.append("_") }
            out.append(contentsOf: c.uppercased())
        }
        return out
    }
}
