import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Business-hours calendars: CRUD, validation, and their arithmetic
/// (ComputeSlaDue is the function the clocks use): holidays, lunch breaks,
/// DST weekends.
@Suite struct ServiceSlaCalendarTests {
    static let weekdays = (1...5).map { day($0, "00:00", "24:00") }
    static let office = (1...5).map { day($0, "09:00", "17:00") }

    @Test func aFortyEightHourTargetSkipsHolidaysAndTheWeekendAndNoMore() async throws {
        // zammad #390: a 48-hour SLA over holidays became 6 days. Here the
        // 48 hours are counted on working days only, and exactly.
        let world = try await ServiceWorld.start()
        let mia = world.mia
        let around = try await mia.createCalendar("Weekdays, Christmas off", zone: "Europe/Berlin", hours: Self.weekdays,
                                                  holidays: ["2026-12-25", "2026-12-24"])
        #expect(around.holidays == ["2026-12-24", "2026-12-25"], "sorted")
        // Wed 23 Dec 12:00 CET: 12 h that day, Thu and Fri are holidays, the
        // weekend is closed, Mon 28 gives 24 h, Tue 29 the last 12 h.
        let start = utc("2026-12-23T11:00:00Z")
        #expect(try await mia.due(around.id, from: start, minutes: 48 * 60).dueUnixUs == utc("2026-12-29T11:00:00Z"))
        // Office hours (8 h a day): 48 h are six working days; Jan 1 is worked here.
        let office = try await mia.createCalendar("Office", zone: "Europe/Berlin", hours: Self.office, holidays: ["2026-12-24", "2026-12-25"])
        // Wed 23 10:00 CET: 7 h, then Mon 28 .. Fri 1 Jan 5 x 8 h = 47 h, Mon 4 Jan 1 h: 10:00 CET.
        #expect(try await mia.due(office.id, from: utc("2026-12-23T09:00:00Z"), minutes: 48 * 60).dueUnixUs == utc("2027-01-04T09:00:00Z"))
        // Working time between two instants skips the same days.
        let between = try await mia.due(around.id, from: start, minutes: 0, end: utc("2026-12-29T11:00:00Z"))
        #expect(between.businessSeconds == 48 * 3600)
        #expect(between.dueUnixUs == start, "0 minutes are due at once")
    }

    @Test func lunchBreaksAreNotWorkingTime() async throws {
        let world = try await ServiceWorld.start()
        let hours = (1...5).flatMap { [day($0, "13:00", "17:00"), day($0, "09:00", "12:00")] }
        let c = try await world.mia.createCalendar("With lunch", zone: "Europe/Berlin", hours: hours)
        #expect(c.hours.map(\.start).prefix(2) == ["09:00", "13:00"], "segments sorted by weekday and start")
        // Mon 1 Jun 2026 11:00 CEST + 2 h: 11-12, lunch, 13-14.
        #expect(try await world.mia.due(c.id, from: utc("2026-06-01T09:00:00Z"), minutes: 120).dueUnixUs == utc("2026-06-01T12:00:00Z"))
        // Ending exactly at the break: due at 12:00, not 13:00.
        #expect(try await world.mia.due(c.id, from: utc("2026-06-01T09:00:00Z"), minutes: 60).dueUnixUs == utc("2026-06-01T10:00:00Z"))
        // A start inside the break counts from 13:00.
        #expect(try await world.mia.due(c.id, from: utc("2026-06-01T10:30:00Z"), minutes: 30).dueUnixUs == utc("2026-06-01T11:30:00Z"))
        // Friday 16:00 + 3 h: 1 h Friday, Monday 09:00-11:00.
        #expect(try await world.mia.due(c.id, from: utc("2026-06-05T14:00:00Z"), minutes: 180).dueUnixUs == utc("2026-06-08T09:00:00Z"))
        #expect(try await world.mia.due(c.id, from: utc("2026-06-01T07:00:00Z"), minutes: 0, end: utc("2026-06-01T15:00:00Z"))
            .businessSeconds == 7 * 3600, "a working day is 7 h")
    }

    @Test func dstWeekendsCountRealHours() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        // New York's clocks go forward on Sun 8 Mar 2026. Fri 16:00 EST
        // (21:00 UTC) + 2 h of office time is Mon 10:00 EDT, 14:00 UTC
        // (a fixed offset would say 15:00 UTC).
        let ny = try await mia.createCalendar("NY office", zone: "America/New_York", hours: Self.office)
        #expect(try await mia.due(ny.id, from: utc("2026-03-06T21:00:00Z"), minutes: 120).dueUnixUs == utc("2026-03-09T14:00:00Z"))
        // And back on Sun 1 Nov 2026: Fri 16:00 EDT (20:00 UTC) + 2 h is Mon 10:00 EST, 15:00 UTC.
        #expect(try await mia.due(ny.id, from: utc("2026-10-30T20:00:00Z"), minutes: 120).dueUnixUs == utc("2026-11-02T15:00:00Z"))
        // A weekend desk in Berlin (Sat and Sun, all day). The spring
        // weekend (29 Mar 2026) is 47 hours, the autumn one (25 Oct) 49.
        let weekend = try await mia.createCalendar("Weekend desk", zone: "Europe/Berlin",
                                                   hours: [day(6, "00:00", "24:00"), day(7, "00:00", "24:00")])
        #expect(try await mia.due(weekend.id, from: utc("2026-03-27T23:00:00Z"), minutes: 0, end: utc("2026-03-29T22:00:00Z"))
            .businessSeconds == 47 * 3600)
        #expect(try await mia.due(weekend.id, from: utc("2026-10-23T22:00:00Z"), minutes: 0, end: utc("2026-10-25T23:00:00Z"))
            .businessSeconds == 49 * 3600)
        // Sat 12:00 CET + 24 h is Sun 13:00 CEST: 24 real hours later.
        #expect(try await mia.due(weekend.id, from: utc("2026-03-28T11:00:00Z"), minutes: 24 * 60).dueUnixUs == utc("2026-03-29T11:00:00Z"))
        // 48 h from Sat 00:00 CET: the 47 h weekend, then the next Saturday's first hour.
        #expect(try await mia.due(weekend.id, from: utc("2026-03-27T23:00:00Z"), minutes: 48 * 60).dueUnixUs == utc("2026-04-03T23:00:00Z"))
    }

    @Test func calendarsAreRecordsWithVersionsKeysAndPages() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        let a = try await mia.createCalendar("A", zone: "Europe/Berlin", hours: Self.office, key: "cal-a")
        #expect(a.version == 1 && a.id > 0)
        let again = try await mia.createCalendar("A", zone: "Europe/Berlin", hours: Self.office, key: "cal-a")
        #expect(again.id == a.id, "a retry gets the first answer")
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"cal-a\" was already used") {
            try await mia.createCalendar("B", zone: "Europe/Berlin", hours: Self.office, key: "cal-a")
        }
        let b = try await mia.createCalendar("B", zone: "Asia/Tokyo", hours: Self.office)
        let c = try await mia.createCalendar("C", zone: "UTC", hours: Self.weekdays)
        var renamed = a
        renamed.name = "A renamed"
        let updated = try await mia.updateCalendar(renamed, mask: ["name"], expectedVersion: 1)
        #expect(updated.version == 2 && updated.name == "A renamed" && updated.hours == a.hours)
        await expectRPCError(.aborted, mentioning: "version") { try await mia.updateCalendar(renamed, mask: ["name"], expectedVersion: 1) }
        await expectRPCError(.invalidArgument, mentioning: "update_mask") { try await mia.updateCalendar(renamed, mask: ["version"]) }
        let got: SCalendar = try await world.ana.call("GetSlaCalendar", Crm_Service_V1_GetSlaCalendarRequest.with { $0.id = a.id })
        #expect(got == updated, "agents read calendars")
        var ids: [Int64] = []
        var token = ""
        repeat {
            let page: Crm_Service_V1_ListSlaCalendarsResponse = try await world.ana.call("ListSlaCalendars", Crm_Service_V1_ListSlaCalendarsRequest.with {
                $0.pageSize = 2; $0.pageToken = token
            })
            ids += page.calendars.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(ids == [a.id, b.id, c.id])
        await expectRPCError(.invalidArgument, mentioning: "page_token is not a token this list returned") {
            try await mia.call("ListSlaCalendars", Crm_Service_V1_ListSlaCalendarsRequest.with { $0.pageToken = "eHl6" }, as: Crm_Service_V1_ListSlaCalendarsResponse.self)
        }
        // Delete: refused while a policy counts on the calendar.
        let policy = try await mia.createPolicy("P", calendar: b.id, first: 60)
        await expectRPCError(.failedPrecondition, mentioning: "calendar \(b.id) is used by SLA policy \(policy.id)") {
            try await mia.call("DeleteSlaCalendar", Crm_Service_V1_DeleteSlaCalendarRequest.with { $0.id = b.id }, as: Crm_Service_V1_DeleteSlaCalendarResponse.self)
        }
        await expectRPCError(.aborted, mentioning: "version") {
            try await mia.call("DeleteSlaCalendar", Crm_Service_V1_DeleteSlaCalendarRequest.with { $0.id = c.id; $0.expectedVersion = 7 },
                               as: Crm_Service_V1_DeleteSlaCalendarResponse.self)
        }
        let _: Crm_Service_V1_DeleteSlaCalendarResponse = try await mia.call("DeleteSlaCalendar", Crm_Service_V1_DeleteSlaCalendarRequest.with { $0.id = c.id })
        await expectRPCError(.notFound, mentioning: "id: calendar \(c.id) does not exist") {
            try await mia.call("GetSlaCalendar", Crm_Service_V1_GetSlaCalendarRequest.with { $0.id = c.id }, as: SCalendar.self)
        }
        await expectRPCError(.invalidArgument, mentioning: "id must be a positive id") {
            try await mia.call("GetSlaCalendar", Crm_Service_V1_GetSlaCalendarRequest.with { $0.id = -3 }, as: SCalendar.self)
        }
    }

    @Test func onlyManagersChangeCalendarsAndThePortalReadsNone() async throws {
        let world = try await ServiceWorld.start()
        await expectRPCError(.permissionDenied, mentioning: "needs service.sla.write at scope all") {
            try await world.ana.createCalendar("Mine", zone: "UTC", hours: Self.office)
        }
        let c = try await world.mia.createCalendar("Shared", zone: "UTC", hours: Self.office)
        await expectRPCError(.permissionDenied, mentioning: "needs service.sla.write at scope all") {
            try await world.ana.updateCalendar(c, mask: ["name"])
        }
        await expectRPCError(.permissionDenied, mentioning: "service.sla.read") {
            try await world.pat.call("GetSlaCalendar", Crm_Service_V1_GetSlaCalendarRequest.with { $0.id = c.id }, as: SCalendar.self)
        }
        #expect(try await world.ana.due(c.id, from: utc("2026-06-01T09:00:00Z"), minutes: 60).dueUnixUs == utc("2026-06-01T10:00:00Z"))
    }

    @Test func badCalendarsAreRefusedNamingTheField() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        func refused(_ mention: String, zone: String = "Europe/Berlin", name: String = "X", hours: [Segment] = ServiceSlaCalendarTests.office,
                     holidays: [String] = []) async {
            await expectRPCError(.invalidArgument, mentioning: mention) {
                try await mia.createCalendar(name, zone: zone, hours: hours, holidays: holidays)
            }
        }
        await refused("calendar.name is required", name: " ")
        await refused("calendar.time_zone is required", zone: "")
        await refused("calendar.time_zone \"Mars/Olympus\" is not an IANA time zone", zone: "Mars/Olympus")
        await refused("calendar.time_zone \"CET+1\" is not an IANA time zone", zone: "CET+1")
        await refused("calendar.hours: a calendar needs at least one working segment", hours: [])
        await refused("calendar.hours[0].weekday is required", hours: [day(0, "09:00", "17:00")])
        await refused("calendar.hours[0].weekday 8 is out of range", hours: [day(8, "09:00", "17:00")])
        await refused("calendar.hours[1].start \"9:00\" is not a time HH:MM", hours: [day(1, "13:00", "17:00"), day(2, "9:00", "12:00")])
        await refused("calendar.hours[0].start \"24:00\" is not a time", hours: [day(1, "24:00", "24:00")])
        await refused("calendar.hours[0].end \"17:60\" is not a time", hours: [day(1, "09:00", "17:60")])
        await refused("calendar.hours[0].end 09:00 is not after its start 09:00", hours: [day(1, "09:00", "09:00")])
        await refused("calendar.hours[2] overlaps calendar.hours[0]", hours: [day(1, "09:00", "12:30"), day(2, "09:00", "12:00"), day(1, "12:00", "17:00")])
        await refused("calendar.hours has more than 50 segments", hours: (0..<51).map { day($0 % 7 + 1, "00:00", "00:01") })
        await refused("calendar.holidays[1] \"2026-02-30\" is not a date YYYY-MM-DD", holidays: ["2026-12-25", "2026-02-30"])
        await refused("calendar.holidays[1] repeats 2026-12-25", holidays: ["2026-12-25", "2026-12-25"])
        let c = try await mia.createCalendar("Ok", zone: "UTC", hours: Self.office)
        var bad = c
        bad.timeZone = "Nowhere"
        await expectRPCError(.invalidArgument, mentioning: "calendar.time_zone \"Nowhere\"") { try await mia.updateCalendar(bad, mask: ["time_zone"]) }
        await expectRPCError(.notFound, mentioning: "calendar.id: calendar 999 does not exist") {
            var missing = c
            missing.id = 999
            return try await mia.updateCalendar(missing, mask: ["name"])
        }
        // ComputeSlaDue's own input.
        await expectRPCError(.invalidArgument, mentioning: "business_minutes is 525601") { try await mia.due(c.id, from: 1, minutes: 525_601) }
        await expectRPCError(.invalidArgument, mentioning: "start_unix_us is 0") { try await mia.due(c.id, from: 0, minutes: 5) }
        await expectRPCError(.invalidArgument, mentioning: "end_unix_us is 5") { try await mia.due(c.id, from: 10, minutes: 5, end: 5) }
        await expectRPCError(.invalidArgument, mentioning: "start_unix_us is 9223372036854775807") { try await mia.due(c.id, from: .max, minutes: 5) }
        await expectRPCError(.notFound, mentioning: "calendar_id: calendar 998 does not exist") { try await mia.due(998, from: 10, minutes: 5) }
        // Working time never found in the horizon: Monday 00:00-00:01 and every Monday a holiday for a while is
        // too slow to build here; a one-minute week and a year of minutes is enough.
        let tiny = try await mia.createCalendar("Tiny", zone: "UTC", hours: [day(1, "00:00", "00:01")])
        await expectRPCError(.failedPrecondition, mentioning: "has not 525600 working minutes in the ten years") {
            try await mia.due(tiny.id, from: utc("2026-06-01T00:00:00Z"), minutes: 525_600)
        }
    }
}
