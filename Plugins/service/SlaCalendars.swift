import CRMPluginKit
import Foundation
import ServiceContract
import SwiftProtobuf

typealias SlaCalendar = Crm_Service_V1_SlaCalendar

/// Business-hours calendars: CRUD, validation, and ComputeSlaDue (the
/// calendar's arithmetic as the clocks use it). A calendar is one row; its
/// hours and holidays are kept as the message's bytes (nothing queries
/// them in SQL). Changing one recomputes the due times of every unsolved
/// ticket (SlaEngine.recomputeUnsolved).
enum SlaCalendars {
    static let writePermission = "service.sla.write"
    static let updateMask = UpdateMask(fields: ["name": 2, "time_zone": 3, "hours": 4, "holidays": 5])

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "CreateSlaCalendar", create)
        def.unary(Service.service + "GetSlaCalendar", get)
        def.unary(Service.service + "UpdateSlaCalendar", update)
        def.unary(Service.service + "DeleteSlaCalendar", delete)
        def.unary(Service.service + "ListSlaCalendars", list)
        def.unary(Service.service + "ComputeSlaDue", computeDue)
    }

    /// Checks and normalizes (segments sorted, holidays sorted) the fields a
    /// writer gives; every error names the field.
    static func validate(_ c: inout SlaCalendar) throws {
        try Check.text(&c.name, "calendar.name", max: 100)
        try Validate.required(c.name, "calendar.name")
        c.timeZone = c.timeZone.trimmedSpaces
        try Validate.required(c.timeZone, "calendar.time_zone")
        guard c.timeZone.utf8.count <= 64, c.timeZone == "UTC" || TimeZone.knownTimeZoneIdentifiers.contains(c.timeZone),
              TimeZone(identifier: c.timeZone) != nil else {
            throw PluginError.invalidArgument("calendar.time_zone \"\(c.timeZone.prefix(64))\" is not an IANA time zone (e.g. Europe/Berlin)")
        }
        guard !c.hours.isEmpty else { throw PluginError.invalidArgument("calendar.hours: a calendar needs at least one working segment") }
        guard c.hours.count <= 50 else { throw PluginError.invalidArgument("calendar.hours has more than 50 segments") }
        var parsed: [(weekday: Int, start: Int, end: Int, index: Int)] = []
        for (i, s) in c.hours.enumerated() {
            let field = "calendar.hours[\(i)]"
            try Check.known(s.weekday.rawValue, 1...7, "\(field).weekday")
            guard let a = BusinessCalendar.minutes(s.start), a < 1440 else {
                throw PluginError.invalidArgument("\(field).start \"\(s.start.prefix(20))\" is not a time HH:MM (00:00-23:59)")
            }
            guard let b = BusinessCalendar.minutes(s.end) else {
                throw PluginError.invalidArgument("\(field).end \"\(s.end.prefix(20))\" is not a time HH:MM (00:00-24:00)")
            }
            guard b > a else { throw PluginError.invalidArgument("\(field).end \(s.end) is not after its start \(s.start)") }
            parsed.append((s.weekday.rawValue, a, b, i))
        }
        parsed.sort { ($0.weekday, $0.start) < ($1.weekday, $1.start) }
        for (x, y) in zip(parsed, parsed.dropFirst()) where x.weekday == y.weekday && y.start < x.end {
            let (first, second) = x.index < y.index ? (x.index, y.index) : (y.index, x.index)
            throw PluginError.invalidArgument("calendar.hours[\(second)] overlaps calendar.hours[\(first)] "
                + "(\(c.hours[first].start)-\(c.hours[first].end) and \(c.hours[second].start)-\(c.hours[second].end) on \(c.hours[x.index].weekday))")
        }
        c.hours = parsed.map { c.hours[$0.index] }
        guard c.holidays.count <= 1000 else { throw PluginError.invalidArgument("calendar.holidays has more than 1000 dates") }
        var seen = Set<String>()
        for (i, h) in c.holidays.enumerated() {
            guard BusinessCalendar.dayNumber(h) != nil else {
                throw PluginError.invalidArgument("calendar.holidays[\(i)] \"\(h.prefix(20))\" is not a date YYYY-MM-DD")
            }
            guard seen.insert(h).inserted else { throw PluginError.invalidArgument("calendar.holidays[\(i)] repeats \(h)") }
        }
        c.holidays.sort()
    }

    static func encode(_ c: SlaCalendar) -> [UInt8] {
        var only = SlaCalendar()
        only.timeZone = c.timeZone
        only.hours = c.hours
        only.holidays = c.holidays
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return (try? only.serializedBytes(options: options)) ?? []
    }

    static let columns = "id, name, definition, version, created_us, updated_us"

    static func decode(_ row: [SQLValue]) -> SlaCalendar {
        var c = (row[2].bytes).flatMap { try? SlaCalendar(serializedBytes: $0) } ?? SlaCalendar()
        c.id = row.int(0)
        c.name = row.text(1)
        c.version = row.int(3)
        c.createdUnixUs = row.int(4)
        c.updatedUnixUs = row.int(5)
        return c
    }

    static func load(_ db: Database, _ id: Int64) throws -> SlaCalendar? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(columns) FROM service_sla_calendars WHERE id = ?", [.integer(id)]).first.map(decode)
    }

    static func require(_ db: Database, _ id: Int64, _ field: String) throws -> SlaCalendar {
        try Validate.positiveID(id, field)
        guard let c = try load(db, id) else { throw PluginError.notFound("\(field): calendar \(id) does not exist") }
        return c
    }

    static func create(_ ctx: CallContext, _ req: Crm_Service_V1_CreateSlaCalendarRequest) throws -> SlaCalendar {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "an SLA calendar")
        let db = try ctx.database
        let (previous, claim) = try Service.idempotency.check(db, method: "CreateSlaCalendar", req, key: \.idempotencyKey)
        if let id = previous { return try require(db, id, "idempotency_key") }
        var c = req.calendar
        try validate(&c)
        let now = UTCClock.nowMicros()
        c.version = 1
        c.createdUnixUs = now
        c.updatedUnixUs = now
        c.id = try db.execute("""
            INSERT INTO service_sla_calendars (name, definition, version, created_us, updated_us) VALUES (?, ?, ?, ?, ?)
            """, [.text(c.name), .blob(encode(c)), .integer(1), .integer(now), .integer(now)]).lastInsertID
        try audit(ctx, "create", old: nil, new: c)
        try Service.idempotency.record(db, claim, resultID: c.id)
        return c
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetSlaCalendarRequest) throws -> SlaCalendar {
        try require(try ctx.database, req.id, "id")
    }

    static func update(_ ctx: CallContext, _ req: Crm_Service_V1_UpdateSlaCalendarRequest) throws -> SlaCalendar {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "an SLA calendar")
        let fields = try updateMask.resolve(req.updateMask, req.calendar)
        let db = try ctx.database
        let before = try require(db, req.calendar.id, "calendar.id")
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "calendar \(before.id)")
        var c = before
        if fields.contains("name") { c.name = req.calendar.name }
        if fields.contains("time_zone") { c.timeZone = req.calendar.timeZone }
        if fields.contains("hours") { c.hours = req.calendar.hours }
        if fields.contains("holidays") { c.holidays = req.calendar.holidays }
        try validate(&c)
        guard c != before else { return c }
        c.version += 1
        c.updatedUnixUs = UTCClock.nowMicros()
        try db.execute("UPDATE service_sla_calendars SET name = ?, definition = ?, version = ?, updated_us = ? WHERE id = ?",
                       [.text(c.name), .blob(encode(c)), .integer(c.version), .integer(c.updatedUnixUs), .integer(c.id)])
        try audit(ctx, "update", old: before, new: c)
        if encode(c) != encode(before) { try SlaEngine.recomputeUnsolved(ctx, db, now: c.updatedUnixUs) }
        return c
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Service_V1_DeleteSlaCalendarRequest) throws -> Crm_Service_V1_DeleteSlaCalendarResponse {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "an SLA calendar")
        let db = try ctx.database
        let c = try require(db, req.id, "id")
        try Validate.expectedVersion(req.expectedVersion, c.version, noun: "calendar \(c.id)")
        if let row = try db.query("SELECT id, definition FROM service_sla_policies WHERE calendar_id = ? ORDER BY id LIMIT 1",
                                  [.integer(c.id)]).first {
            throw PluginError.failedPrecondition("id: calendar \(c.id) is used by SLA policy \(row.int(0)); change or delete the policy first")
        }
        try db.execute("DELETE FROM service_sla_calendars WHERE id = ?", [.integer(c.id)])
        try audit(ctx, "delete", old: c, new: nil)
        return .init()
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListSlaCalendarsRequest) throws -> Crm_Service_V1_ListSlaCalendarsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var parameters: [SQLValue] = []
        var condition = ""
        if let after = paging.after { condition = "WHERE id > ?"; parameters = [try tokenInt(after[0])] }
        let page = try fetchPage(try ctx.database, "SELECT \(columns) FROM service_sla_calendars \(condition) ORDER BY id LIMIT ?",
                                 parameters, paging, decode: decode, key: { [$0[0]] })
        var response = Crm_Service_V1_ListSlaCalendarsResponse()
        response.calendars = page.rows
        response.nextPageToken = page.nextToken
        return response
    }

    /// Year 9999's last microsecond: later instants are no time a calendar knows.
    static let latestMicros: Int64 = 253_402_300_799_999_999

    static func computeDue(_ ctx: CallContext, _ req: Crm_Service_V1_ComputeSlaDueRequest) throws -> Crm_Service_V1_ComputeSlaDueResponse {
        try Checked.inRange(req.startUnixUs, 1...latestMicros, "start_unix_us")
        try Checked.inRange(req.businessMinutes, 0...SlaPolicies.maxMinutes, "business_minutes")
        if req.endUnixUs != 0 {
            try Checked.inRange(req.endUnixUs, req.startUnixUs...latestMicros, "end_unix_us")
        }
        let c = try require(try ctx.database, req.calendarID, "calendar_id")
        guard let calendar = BusinessCalendar(c) else { throw PluginError(.internal, "calendar \(c.id): time zone \(c.timeZone) is unknown") }
        var response = Crm_Service_V1_ComputeSlaDueResponse()
        guard let due = calendar.add(req.startUnixUs, Int64(req.businessMinutes) * 60_000_000) else {
            throw PluginError.failedPrecondition("calendar_id: calendar \(c.id) has not \(req.businessMinutes) working minutes in the ten years after start_unix_us")
        }
        response.dueUnixUs = due
        if req.endUnixUs != 0 { response.businessSeconds = calendar.working(req.startUnixUs, req.endUnixUs) / 1_000_000 }
        return response
    }

    static func audit(_ ctx: CallContext, _ action: String, old: SlaCalendar?, new: SlaCalendar?) throws {
        func fields(_ c: SlaCalendar) -> [String: String] {
            ["name": c.name, "time_zone": c.timeZone,
             "hours": c.hours.map { "\($0.weekday) \($0.start)-\($0.end)".uppercased() }.joined(separator: ", "),
             "holidays": c.holidays.joined(separator: ", ")].filter { !$0.value.isEmpty }
        }
        let id = new?.id ?? old?.id ?? 0
        try ctx.audit(AuditEntry(entity: "service.sla_calendar", recordID: String(id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: new.map(fields) ?? [:])))
    }
}
