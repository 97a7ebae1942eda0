import CRMPluginKit
import SalesContract
import ContactsLinkKit

/// Calls, meetings, emails and tasks about leads, people and opportunities,
/// and each owner's overdue follow-ups.
enum ActivityMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "CreateActivity", create)
        def.unary(Sales.service + "CompleteActivity", complete)
        def.unary(Sales.service + "ListActivities", list)
        def.unary(Sales.service + "ListFollowUps", followUps)
    }

    static let columns = """
        id, type, subject, notes, owner, due_us, completed_us, lead_id, person_id, opportunity_id, created_us
        """

    static func create(_ ctx: CallContext, _ req: Crm_Sales_V1_CreateActivityRequest) throws -> Activity {
        let db = try ctx.database
        let (previous, claim) = try Sales.idempotency.check(db, method: "CreateActivity", req, key: \.idempotencyKey)
        let scope = ctx.scope
        if let id = previous {
            let a = try require(db, id)
            return try SalesScope.retried(a, owner: a.owner, scope, method: "CreateActivity", key: req.idempotencyKey)
        }
        var a = req.activity
        switch a.type {
        case .call, .meeting, .email, .task: break
        case .unspecified: throw PluginError.invalidArgument("activity.type is required")
        default: throw PluginError.invalidArgument("activity.type \(a.type.rawValue) is not an activity type")
        }
        try Check.text(&a.subject, "activity.subject", max: 200)
        try Validate.required(a.subject, "activity.subject")
        try Validate.maxLength(a.notes, "activity.notes", 10_000)
        try Check.text(&a.owner, "activity.owner", max: 100)
        if a.dueUnixUs < 0 { throw PluginError.invalidArgument("activity.due_unix_us must not be negative") }
        if a.completedUnixUs < 0 { throw PluginError.invalidArgument("activity.completed_unix_us must not be negative") }
        guard a.leadID != 0 || a.personID != 0 || a.opportunityID != 0 else {
            throw PluginError.invalidArgument("activity: one of lead_id, person_id and opportunity_id is required")
        }
        // The activity follows its own owner (see SalesScope); the records it
        // is about must be ones the caller can see, else they are "missing".
        if a.leadID != 0 {
            _ = try LeadStore(db: db).require(a.leadID, field: "activity.lead_id", readableIn: ctx.scope(for: SalesScope.leadRead))
        }
        if a.opportunityID != 0 {
            _ = try OpportunityStore(db: db).require(a.opportunityID, field: "activity.opportunity_id",
                                                     readableIn: ctx.scope(for: SalesScope.opportunityRead))
        }
        if a.personID != 0 {
            try Validate.positiveID(a.personID, "activity.person_id")
            try ContactsLink.requirePerson(ctx, a.personID, field: "activity.person_id")
        }
        a.owner = try scope.owner(for: a.owner, "activity.owner: the activity")
        a.createdUnixUs = UTCClock.nowMicros()
        a.id = try db.execute("""
            INSERT INTO sales_activities (\(columns.dropFirst(4))) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(Int64(a.type.rawValue)), .text(a.subject), .text(a.notes), .text(a.owner), .integer(a.dueUnixUs),
                  .integer(a.completedUnixUs), .integer(a.leadID), .integer(a.personID), .integer(a.opportunityID),
                  .integer(a.createdUnixUs)]).lastInsertID
        try SalesAudit.activity(ctx, "create", old: nil, new: a)
        try Sales.idempotency.record(db, claim, resultID: a.id)
        let verb = a.completedUnixUs != 0 ? "logged" : "planned"
        try SalesEvents.activity(ctx, db, "created", a, "\(describe(a)) \(verb)")
        return a
    }

    static func complete(_ ctx: CallContext, _ req: Crm_Sales_V1_CompleteActivityRequest) throws -> Activity {
        let db = try ctx.database
        var a = try require(db, req.id)
        try ctx.scope.checkWritable(owner: a.owner, "id: activity \(a.id)")
        guard a.completedUnixUs == 0 else {
            throw PluginError.failedPrecondition("id: activity \(a.id) is already completed")
        }
        let before = a
        let notes = req.notes.trimmedSpacesAndNewlines
        if !notes.isEmpty { a.notes = a.notes.isEmpty ? notes : a.notes + "\n" + notes }
        try Validate.maxLength(a.notes, "notes", 10_000)
        a.completedUnixUs = UTCClock.nowMicros()
        try db.execute("UPDATE sales_activities SET notes = ?, completed_us = ? WHERE id = ?",
                       [.text(a.notes), .integer(a.completedUnixUs), .integer(a.id)])
        try SalesAudit.activity(ctx, "complete", old: before, new: a)
        try SalesEvents.activity(ctx, db, "completed", a, "\(describe(a)) completed")
        return a
    }

    static func list(_ ctx: CallContext, _ req: Crm_Sales_V1_ListActivitiesRequest) throws -> Crm_Sales_V1_ListActivitiesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        for (value, name) in [(req.leadID, "lead_id"), (req.personID, "person_id"), (req.opportunityID, "opportunity_id")] {
            try Validate.optionalID(value, name)
        }
        var filter = SQLFilter()
        if req.leadID != 0 { filter.add("lead_id = ?", .integer(req.leadID)) }
        if req.personID != 0 { filter.add("person_id = ?", .integer(req.personID)) }
        if req.opportunityID != 0 { filter.add("opportunity_id = ?", .integer(req.opportunityID)) }
        if !req.owner.isEmpty { filter.add("owner = ?", .text(req.owner)) }
        if req.openOnly { filter.add("completed_us = 0") }
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let page = try fetchPage(try ctx.database, "SELECT \(columns) FROM sales_activities \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: decode, key: { [$0[0]] })
        return .with {
            $0.activities = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    /// Open activities of the owner that were due before now, oldest due first.
    static func followUps(_ ctx: CallContext, _ req: Crm_Sales_V1_ListFollowUpsRequest) throws -> Crm_Sales_V1_ListActivitiesResponse {
        try Validate.required(req.owner, "owner")
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        var filter = SQLFilter()
        filter.add("owner = ? AND completed_us = 0 AND due_us > 0 AND due_us < ?",
                   .text(req.owner), .integer(UTCClock.nowMicros()))
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        if let after = paging.after { filter.add("(due_us > ? OR (due_us = ? AND id > ?))", after[0], after[0], after[1]) }
        let page = try fetchPage(try ctx.database,
                                 "SELECT \(columns) FROM sales_activities \(filter.clause) ORDER BY due_us, id LIMIT ?",
                                 filter.parameters, paging, decode: decode, key: { [$0[5], $0[0]] })
        return .with {
            $0.activities = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    static func require(_ db: Database, _ id: Int64, field: String = "id") throws -> Activity {
        try Validate.positiveID(id, field)
        guard let row = try db.query("SELECT \(columns) FROM sales_activities WHERE id = ?", [.integer(id)]).first else {
            throw PluginError.notFound("\(field): activity \(id) does not exist")
        }
        return decode(row)
    }

    static func decode(_ row: [SQLValue]) -> Activity {
        var a = Activity()
        a.id = row.int(0)
        a.type = Crm_Sales_V1_ActivityType(rawValue: Int(row.int(1))) ?? .unspecified
        a.subject = row.text(2)
        a.notes = row.text(3)
        a.owner = row.text(4)
        a.dueUnixUs = row.int(5)
        a.completedUnixUs = row.int(6)
        a.leadID = row.int(7)
        a.personID = row.int(8)
        a.opportunityID = row.int(9)
        a.createdUnixUs = row.int(10)
        return a
    }

    static func describe(_ a: Activity) -> String {
        let kind: String
        switch a.type {
        case .call: kind = "Call"
        case .meeting: kind = "Meeting"
        case .email: kind = "Email"
        default: kind = "Task"
        }
        return "\(kind) '\(a.subject)'"
    }
}
