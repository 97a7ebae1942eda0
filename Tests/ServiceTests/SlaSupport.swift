import CRMClient
import CRMProto
import Foundation
import ServiceTestClient

typealias Segment = Crm_Service_V1_WorkingSegment
typealias SCalendar = Crm_Service_V1_SlaCalendar
typealias SPolicy = Crm_Service_V1_SlaPolicy

/// SLA calls for the tests (they live here, beside the suites that use them).
extension ServiceClient {
    func createCalendar(_ name: String, zone: String, hours: [Segment], holidays: [String] = [], key: String = "") async throws -> SCalendar {
        try await call("CreateSlaCalendar", Crm_Service_V1_CreateSlaCalendarRequest.with {
            $0.calendar = .with { $0.name = name; $0.timeZone = zone; $0.hours = hours; $0.holidays = holidays }
            $0.idempotencyKey = key
        })
    }

    func updateCalendar(_ calendar: SCalendar, mask: [String], expectedVersion: Int64 = 0) async throws -> SCalendar {
        try await call("UpdateSlaCalendar", Crm_Service_V1_UpdateSlaCalendarRequest.with {
            $0.calendar = calendar
            $0.updateMask = mask
            $0.expectedVersion = expectedVersion
        })
    }

    /// A 24x7 calendar in UTC.
    func alwaysOpen() async throws -> SCalendar {
        try await createCalendar("24x7", zone: "UTC", hours: (1...7).map { day($0, "00:00", "24:00") })
    }

    func createPolicy(_ name: String, calendar: Int64, position: Int32 = 0, first: Int32 = 0, next: Int32 = 0, resolution: Int32 = 0,
                      conditions: Crm_Service_V1_SlaConditions = .init(), key: String = "") async throws -> SPolicy {
        try await call("CreateSlaPolicy", Crm_Service_V1_CreateSlaPolicyRequest.with {
            $0.policy = .with {
                $0.name = name
                $0.calendarID = calendar
                $0.position = position
                $0.firstResponseMinutes = first
                $0.nextResponseMinutes = next
                $0.resolutionMinutes = resolution
                $0.conditions = conditions
            }
            $0.idempotencyKey = key
        })
    }

    func due(_ calendar: Int64, from start: Int64, minutes: Int32, end: Int64 = 0) async throws -> Crm_Service_V1_ComputeSlaDueResponse {
        try await call("ComputeSlaDue", Crm_Service_V1_ComputeSlaDueRequest.with {
            $0.calendarID = calendar
            $0.startUnixUs = start
            $0.businessMinutes = minutes
            $0.endUnixUs = end
        })
    }

    func sla(_ ticket: Int64) async throws -> Crm_Service_V1_TicketSla {
        try await call("GetTicketSla", Crm_Service_V1_GetTicketSlaRequest.with { $0.ticketID = ticket })
    }

    func slaHistory(_ ticket: Int64, pageSize: Int32 = 0, token: String = "") async throws -> Crm_Service_V1_ListSlaHistoryResponse {
        try await call("ListSlaHistory", Crm_Service_V1_ListSlaHistoryRequest.with {
            $0.ticketID = ticket
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    func report(from: Int64, to: Int64, by group: Crm_Service_V1_SlaReportGroup, pageSize: Int32 = 0,
                token: String = "") async throws -> Crm_Service_V1_GetSlaReportResponse {
        try await call("GetSlaReport", Crm_Service_V1_GetSlaReportRequest.with {
            $0.fromUnixUs = from
            $0.toUnixUs = to
            $0.groupBy = group
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }
}

/// A working segment on a weekday (1 Monday .. 7 Sunday).
func day(_ weekday: Int, _ start: String, _ end: String) -> Segment {
    .with { $0.weekday = Crm_Service_V1_Weekday(rawValue: weekday) ?? .unspecified; $0.start = start; $0.end = end }
}

/// "2026-03-06T21:00:00Z" as UTC microseconds.
func utc(_ text: String) -> Int64 {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return Int64(f.date(from: text)!.timeIntervalSince1970) * 1_000_000
}

let minute: Int64 = 60_000_000

extension Crm_Service_V1_TicketSla {
    func clock(_ kind: Crm_Service_V1_SlaClockKind, cycle: Int32 = 1) -> Crm_Service_V1_SlaClock? {
        clocks.first { $0.kind == kind && $0.cycle == cycle }
    }
}
