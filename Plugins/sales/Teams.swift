import CRMPluginKit
import SalesContract

/// Teams for round-robin assignment of new leads. The pointer to the next
/// member lives in `sales_teams` and advances in the transaction of the
/// create that uses it, so concurrent creates never pick the same turn.
enum Teams {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "SetTeam", set)
        def.unary(Sales.service + "GetTeam", get)
    }

    static func set(_ ctx: CallContext, _ req: Crm_Sales_V1_SetTeamRequest) throws -> Crm_Sales_V1_Team {
        var name = req.name
        try Check.text(&name, "name", max: 100)
        try Validate.required(name, "name")
        guard !req.members.isEmpty else { throw PluginError.invalidArgument("members: at least one member is required") }
        guard req.members.count <= 200 else { throw PluginError.invalidArgument("members has more than 200 entries") }
        var members: [String] = []
        for (i, raw) in req.members.enumerated() {
            var member = raw
            try Check.text(&member, "members[\(i)]", max: 100)
            try Validate.required(member, "members[\(i)]")
            if members.contains(member) { throw PluginError.invalidArgument("members[\(i)] repeats \"\(member)\"") }
            members.append(member)
        }
        let db = try ctx.database
        // The member whose turn it was keeps it if they stay on the team.
        var next = 0
        let current = try load(db, name)
        if let current, let index = members.firstIndex(of: current.nextMember) { next = index }
        try db.execute("""
            INSERT INTO sales_teams (name, next_index) VALUES (?, ?)
            ON CONFLICT (name) DO UPDATE SET next_index = excluded.next_index
            """, [.text(name), .integer(Int64(next))])
        try db.execute("DELETE FROM sales_team_members WHERE team = ?", [.text(name)])
        let insert = try db.prepare("INSERT INTO sales_team_members (team, position, member) VALUES (?, ?, ?)")
        defer { insert.finalize() }
        for (position, member) in members.enumerated() {
            try insert.reset()
            try insert.bind([.text(name), .integer(Int64(position)), .text(member)])
            while try insert.step() {}
        }
        var team = Crm_Sales_V1_Team()
        team.name = name
        team.members = members
        team.nextMember = members[next]
        if current != team { try SalesAudit.team(ctx, "set", old: current, new: team) }
        return team
    }

    static func get(_ ctx: CallContext, _ req: Crm_Sales_V1_GetTeamRequest) throws -> Crm_Sales_V1_Team {
        try Validate.required(req.name, "name")
        guard let team = try load(try ctx.database, req.name) else {
            throw PluginError.notFound("name: team \"\(req.name)\" does not exist")
        }
        return team
    }

    static func load(_ db: Database, _ name: String) throws -> Crm_Sales_V1_Team? {
        guard let next = try db.query("SELECT next_index FROM sales_teams WHERE name = ?", [.text(name)]).first?.first?.int else {
            return nil
        }
        var team = Crm_Sales_V1_Team()
        team.name = name
        team.members = try db.query("SELECT member FROM sales_team_members WHERE team = ? ORDER BY position", [.text(name)])
            .map { $0.text(0) }
        if !team.members.isEmpty { team.nextMember = team.members[Int(next) % team.members.count] }
        return team
    }

    /// The member whose turn it is; advances the pointer. Call inside the
    /// writing transaction that assigns the lead.
    static func nextMember(_ ctx: CallContext, _ db: Database, team name: String, field: String) throws -> String {
        guard let team = try load(db, name), !team.members.isEmpty else {
            throw PluginError.notFound("\(field): team \"\(name)\" does not exist")
        }
        let index = team.members.firstIndex(of: team.nextMember) ?? 0
        let next = (index + 1) % team.members.count
        try db.execute("UPDATE sales_teams SET next_index = ? WHERE name = ?", [.integer(Int64(next)), .text(name)])
        var advanced = team
        advanced.nextMember = team.members[next]
        try SalesAudit.team(ctx, "assign", old: team, new: advanced)
        return team.nextMember
    }
}
