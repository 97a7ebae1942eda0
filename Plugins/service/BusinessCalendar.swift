import Foundation
import ServiceContract

/// A calendar's working time as arithmetic on UTC microseconds: the
/// instant at which some working time has passed, and the working time
/// between two instants. Local days are civil day numbers (days since
/// 1970-01-01 in the calendar's zone); each day's working windows are
/// found by converting its segments' local wall times to instants with
/// Foundation's Calendar in the zone, so a DST day is 23 or 25 hours long
/// and a 09:00 start moves in UTC as the offset changes. Windows are cached
/// per day: a recompute of many tickets on one calendar converts each day
/// once. Not thread-safe: one instance per call.
final class BusinessCalendar {
    /// How far `add` looks for working time before it gives up.
    static let horizonDays: Int64 = 3660
    static let dayMicros: Int64 = 86_400_000_000

    let zone: TimeZone
    /// Per weekday (1 Monday .. 7 Sunday): [start, end) minutes of the day.
    let segments: [Int: [(Int, Int)]]
    let holidays: Set<Int64>
    /// Every day 00:00-24:00 and no holiday: working time is wall time.
    let alwaysOpen: Bool
    private let calendar: Calendar
    private var windowCache: [Int64: [(Int64, Int64)]] = [:]

    /// From a validated calendar (SlaCalendars.validate checked it); nil
    /// for a zone Foundation does not know.
    init?(_ c: Crm_Service_V1_SlaCalendar) {
        guard let zone = TimeZone(identifier: c.timeZone) else { return nil }
        self.zone = zone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        self.calendar = calendar
        var segments: [Int: [(Int, Int)]] = [:]
        for s in c.hours {
            guard let a = Self.minutes(s.start), let b = Self.minutes(s.end) else { continue }
            segments[s.weekday.rawValue, default: []].append((a, b))
        }
        for key in segments.keys { segments[key]!.sort { $0.0 < $1.0 } }
        self.segments = segments
        self.holidays = Set(c.holidays.compactMap(Self.dayNumber))
        alwaysOpen = holidays.isEmpty && (1...7).allSatisfy { d in segments[d].map { $0.count == 1 && $0[0] == (0, 1440) } ?? false }
    }

    /// "HH:MM" as minutes of the day (00:00-24:00), or nil.
    static func minutes(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 5, bytes[2] == 58 else { return nil }
        let digits = [bytes[0], bytes[1], bytes[3], bytes[4]]
        guard digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let h = Int(digits[0] - 48) * 10 + Int(digits[1] - 48)
        let m = Int(digits[2] - 48) * 10 + Int(digits[3] - 48)
        guard m < 60, h < 24 || (h == 24 && m == 0) else { return nil }
        return h * 60 + m
    }

    /// "YYYY-MM-DD" (a real date, years 1-9999) as a civil day number, or nil.
    static func dayNumber(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == 45, bytes[7] == 45 else { return nil }
        func number(_ r: Range<Int>) -> Int64? {
            var v: Int64 = 0
            for i in r { guard bytes[i] >= 48 && bytes[i] <= 57 else { return nil }; v = v * 10 + Int64(bytes[i] - 48) }
            return v
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10), y >= 1, (1...12).contains(m), d >= 1 else { return nil }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let lengths: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= lengths[Int(m - 1)] else { return nil }
        return daysFromCivil(y, m, d)
    }

    /// Howard Hinnant's days_from_civil: day 0 is 1970-01-01.
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }

    /// 1 Monday .. 7 Sunday; day 0 (1970-01-01) was a Thursday.
    static func weekday(_ day: Int64) -> Int { Int(((day % 7) + 7 + 3) % 7) + 1 }

    /// The local day holding an instant.
    func localDay(_ us: Int64) -> Int64 {
        let seconds = us / 1_000_000
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        let local = seconds + offset
        return local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
    }

    /// The instant of a local wall time on a day (minute 1440 is the next day's 00:00).
    private func instant(_ day: Int64, _ minute: Int) -> Int64? {
        let (y, m, d) = Self.civilFromDays(minute == 1440 ? day + 1 : day)
        let mm = minute == 1440 ? 0 : minute
        let parts = DateComponents(year: Int(y), month: Int(m), day: Int(d), hour: mm / 60, minute: mm % 60)
        guard let date = calendar.date(from: parts) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// A local day's working windows as [start, end) instants, in order.
    func windows(_ day: Int64) -> [(Int64, Int64)] {
        if let cached = windowCache[day] { return cached }
        var result: [(Int64, Int64)] = []
        if !holidays.contains(day) {
            for (a, b) in segments[Self.weekday(day)] ?? [] {
                guard let start = instant(day, a), let end = instant(day, b), end > start else { continue }
                // A segment whose start falls in a DST gap is moved forward by Foundation;
                // never let two windows of a day overlap because of it.
                let s = max(start, result.last?.1 ?? start)
                if end > s { result.append((s, end)) }
            }
        }
        windowCache[day] = result
        return result
    }

    /// The instant at which `micros` of working time have passed after
    /// `start`, or nil when the horizon holds not enough of it.
    func add(_ start: Int64, _ micros: Int64) -> Int64? {
        guard micros > 0 else { return start }
        if alwaysOpen {
            let (sum, overflow) = start.addingReportingOverflow(micros)
            return overflow ? nil : sum
        }
        var remaining = micros
        let first = localDay(start) - 1
        for day in first...(first + Self.horizonDays) {
            for (a, b) in windows(day) where b > start {
                let s = max(a, start)
                let length = b - s
                if length >= remaining { return s + remaining }
                remaining -= length
            }
        }
        return nil
    }

    /// Working time in [from, to).
    func working(_ from: Int64, _ to: Int64) -> Int64 {
        guard to > from else { return 0 }
        if alwaysOpen { return to - from }
        var total: Int64 = 0
        let first = localDay(from) - 1
        let last = min(localDay(to) + 1, first + Self.horizonDays)
        for day in first...last {
            for (a, b) in windows(day) {
                let s = max(a, from), e = min(b, to)
                if e > s { total += e - s }
            }
        }
        return total
    }
}
