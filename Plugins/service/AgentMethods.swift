import CRMPluginKit
import ServiceContract

typealias AgentRouting = Crm_Service_V1_AgentRouting

/// An agent's routing state: availability (theirs to set), capacity and
/// skills (a manager's). One row per CRM user, shared by all their teams;
/// an agent never set is OFFLINE with no limit and no skill.
enum AgentMethods {
    static let writePermission = "service.agent.write"

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "SetAgentRouting", setRouting)
        def.unary(Service.service + "SetAgentAvailability", setAvailability)
        def.unary(Service.service + "GetAgentRouting", get)
    }

    static func load(_ db: Database, _ agent: String) throws -> AgentRouting {
        var a = AgentRouting()
        a.agent = agent
        a.availability = .offline
        if let r = try db.query("""
            SELECT availability, max_open, skills, availability_changed_us, updated_us FROM service_agents WHERE agent = ?
            """, [.text(agent)]).first {
            a.availability = Crm_Service_V1_Availability(rawValue: Int(truncatingIfNeeded: r.int(0))) ?? .offline
            a.maxOpenTickets = Int32(clamping: r.int(1))
            a.skills = RoutingEngine.skills(r.text(2))
            a.availabilityChangedUnixUs = r.int(3)
            a.updatedUnixUs = r.int(4)
        }
        a.openTickets = Int32(clamping: try RoutingEngine.openTickets(db, agent))
        return a
    }

    /// The agent a request names, or the caller for "".
    static func agent(_ ctx: CallContext, _ given: String) throws -> String {
        if given.isEmpty {
            guard let user = ctx.user else { throw PluginError.invalidArgument("agent is required from a caller who is no CRM user") }
            return user
        }
        try Check.name(given, "agent")
        return given
    }

    /// Skills: tags (1-100 of a-z 0-9 - _) or "<field key>=<value>" with
    /// the value lower-cased, as a ticket's custom field is matched.
    static func skills(_ raw: [String], _ field: String) throws -> [String] {
        guard raw.count <= 50 else { throw PluginError.invalidArgument("\(field) has more than 50 entries") }
        var out: [String] = []
        for (i, value) in raw.enumerated() {
            let skill = value.trimmedSpaces.lowercased()
            let parts = skill.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let tagLike = { (s: Substring) in
                (1...100).contains(s.utf8.count)
                    && s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }
            }
            let ok = parts.count == 1 ? tagLike(parts[0])
                : tagLike(parts[0]) && (1...100).contains(parts[1].count) && !parts[1].unicodeScalars.contains { $0.properties.generalCategory == .control }
            guard ok else {
                throw PluginError.invalidArgument("\(field)[\(i)] \"\(value.prefix(60))\" is not a skill (a tag of a-z 0-9 - _, or <field key>=<value>)")
            }
            if out.contains(skill) { throw PluginError.invalidArgument("\(field)[\(i)] repeats \"\(skill)\"") }
            out.append(skill)
        }
        return out.sorted()
    }

    static func setRouting(_ ctx: CallContext, _ req: Crm_Service_V1_SetAgentRoutingRequest) throws -> AgentRouting {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "an agent's capacity and skills")
        try Validate.required(req.agent, "agent")
        try Check.name(req.agent, "agent")
        try Checked.inRange(req.maxOpenTickets, 0...10_000, "max_open_tickets")
        let skills = try Self.skills(req.skills, "skills")
        let db = try ctx.database
        let old = try load(db, req.agent)
        guard old.maxOpenTickets != req.maxOpenTickets || old.skills != skills else { return old }
        let now = UTCClock.nowMicros()
        try db.execute("""
            INSERT INTO service_agents (agent, availability, max_open, skills, availability_changed_us, updated_us)
            VALUES (?, ?, ?, ?, 0, ?)
            ON CONFLICT (agent) DO UPDATE SET max_open = excluded.max_open, skills = excluded.skills, updated_us = excluded.updated_us
            """, [.text(req.agent), .integer(Int64(Crm_Service_V1_Availability.offline.rawValue)), .integer(Int64(req.maxOpenTickets)),
                  .text(skills.joined(separator: "\n")), .integer(now)])
        try ctx.audit(AuditEntry(entity: "service.agent", recordID: req.agent, action: "set", changes: FieldChange.between(
            old: routingFields(old.maxOpenTickets, old.skills), new: routingFields(req.maxOpenTickets, skills))))
        // More room or new skills: what waits in the agent's queues may now go to them.
        _ = try RoutingEngine.routeTeams(of: req.agent, ctx, db)
        return try load(db, req.agent)
    }

    private static func routingFields(_ maxOpen: Int32, _ skills: [String]) -> [String: String] {
        var out: [String: String] = [:]
        if maxOpen != 0 { out["max_open_tickets"] = String(maxOpen) }
        if !skills.isEmpty { out["skills"] = skills.joined(separator: ", ") }
        return out
    }

    static func setAvailability(_ ctx: CallContext, _ req: Crm_Service_V1_SetAgentAvailabilityRequest) throws
        -> Crm_Service_V1_SetAgentAvailabilityResponse {
        let agent = try Self.agent(ctx, req.agent)
        try Check.known(req.availability.rawValue, 1...3, "availability")
        if agent != ctx.user && ctx.scope.reach != .all {
            throw PluginError(.permissionDenied, "agent: only \(agent) (or a manager with \(writePermission) at scope all) sets their availability")
        }
        let db = try ctx.database
        let old = try load(db, agent)
        var response = Crm_Service_V1_SetAgentAvailabilityResponse()
        guard old.availability != req.availability else {
            response.agent = old
            return response
        }
        let now = UTCClock.nowMicros()
        try db.execute("""
            INSERT INTO service_agents (agent, availability, max_open, skills, availability_changed_us, updated_us)
            VALUES (?, ?, 0, '', ?, ?)
            ON CONFLICT (agent) DO UPDATE SET availability = excluded.availability,
                availability_changed_us = excluded.availability_changed_us, updated_us = excluded.updated_us
            """, [.text(agent), .integer(Int64(req.availability.rawValue)), .integer(now), .integer(now)])
        try ctx.audit(AuditEntry(entity: "service.agent", recordID: agent, action: "availability", changes: [
            FieldChange("availability", old: name(old.availability), new: name(req.availability))]))
        if req.availability == .online { response.routed = Int32(clamping: try RoutingEngine.routeTeams(of: agent, ctx, db)) }
        response.agent = try load(db, agent)
        return response
    }

    static func name(_ a: Crm_Service_V1_Availability) -> String { "AVAILABILITY_" + "\(a)".uppercased() }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetAgentRoutingRequest) throws -> AgentRouting {
        try load(try ctx.database, try agent(ctx, req.agent))
    }
}
