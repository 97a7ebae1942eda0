import CRMPluginKit
import ContactsContract
import Foundation
import MarketingContract
import SwiftProtobuf

typealias SegmentRule = Crm_Marketing_V1_SegmentRule
typealias RuleCondition = Crm_Marketing_V1_RuleCondition

/// A rule as one SQL boolean expression over `marketing_people p`, with its
/// parameters in order. User text only ever reaches SQL as a bound value.
struct CompiledRule: Sendable {
    /// One bound value: fixed, or the start of an engagement window ("the
    /// last N days"), computed each time the rule runs: a compiled rule is
    /// cached, and must not keep the edge of the day it was compiled.
    enum Binding: Sendable {
        case value(SQLValue)
        case windowStart(days: Int32)
    }

    /// People found through an index that every match is among (a tag or
    /// custom-field EQUALS the whole rule requires): a count can start from
    /// that index's few rows instead of scanning every person.
    struct Driver: Sendable {
        /// The table, aliased `d`, with one row per person at most.
        var table: String
        /// Its condition on `d`, with `bindings` in order.
        var condition: String
        var bindings: [Binding]
        /// The rule holds exactly for the people the driver finds (it is the
        /// whole rule), so it need not be checked again.
        var exact: Bool
    }

    var sql: String
    var bindings: [Binding]
    /// The engagement windows the rule reads (EngagementWindows re-checks
    /// people as their opens and clicks age out of them).
    var windows: Set<EngagementWindow> = []
    var driver: Driver?

    init(sql: String, parameters: [SQLValue]) {
        self.sql = sql
        bindings = parameters.map { .value($0) }
    }

    init(sql: String, bindings: [Binding], windows: Set<EngagementWindow>, driver: Driver? = nil) {
        self.sql = sql
        self.bindings = bindings
        self.windows = windows
        self.driver = driver
    }

    /// The values to bind, with windows as of now.
    var parameters: [SQLValue] { parameters(now: UTCClock.nowMicros()) }

    func parameters(now: Int64) -> [SQLValue] { Self.values(bindings, now: now) }

    static func values(_ bindings: [Binding], now: Int64) -> [SQLValue] {
        bindings.map {
            switch $0 {
            case .value(let v): v
            case .windowStart(let days): .integer(EngagementWindows.start(days: days, now: now))
            }
        }
    }
}

/// Validates a segment rule and compiles it. Every error is INVALID_ARGUMENT
/// naming the path of the part at fault ("rule.all[2].condition.field").
enum SegmentRules {
    static let maxConditions = 200
    static let maxDepth = 10
    static let maxValues = 100
    static let maxValueLength = 500

    static let textColumns: [String: String] = [
        "first_name": "first_name", "last_name": "last_name", "email": "email", "email_domain": "email_domain",
        "job_title": "job_title", "source": "source", "owner": "owner",
    ]
    static let fieldList = "first_name, last_name, email, email_domain, job_title, source, owner, lifecycle_stage, "
        + "organization_id, tag, custom.<key>, consent.email, consent.sms, engagement.opened, engagement.clicked"

    static func compile(_ rule: SegmentRule, path: String = "rule") throws -> CompiledRule {
        var conditions = 0
        return try compile(rule, path: path, depth: 1, conditions: &conditions)
    }

    private static func compile(_ rule: SegmentRule, path: String, depth: Int, conditions: inout Int) throws -> CompiledRule {
        guard depth <= maxDepth else {
            throw PluginError.invalidArgument("\(path): rules nest at most \(maxDepth) levels deep")
        }
        switch rule.rule {
        case nil:
            throw PluginError.invalidArgument("\(path): set one of condition, all, any, not")
        case .condition(let condition)?:
            conditions += 1
            guard conditions <= maxConditions else {
                throw PluginError.invalidArgument("\(path): a rule holds at most \(maxConditions) conditions and groups")
            }
            return try compile(condition, path: path + ".condition")
        case .all(let group)?:
            return try combine(group.rules, "AND", empty: "1", path: path + ".all", depth: depth, conditions: &conditions)
        case .any(let group)?:
            return try combine(group.rules, "OR", empty: "0", path: path + ".any", depth: depth, conditions: &conditions)
        case .not(let inner)?:
            let compiled = try compile(inner, path: path + ".not", depth: depth + 1, conditions: &conditions)
            return CompiledRule(sql: "NOT (\(compiled.sql))", bindings: compiled.bindings, windows: compiled.windows)
        }
    }

    private static func combine(_ rules: [SegmentRule], _ op: String, empty: String, path: String, depth: Int,
                                conditions: inout Int) throws -> CompiledRule {
        // Groups count too: nested empty groups would otherwise make megabytes of SQL.
        conditions += 1
        guard conditions <= maxConditions else {
            throw PluginError.invalidArgument("\(path): a rule holds at most \(maxConditions) conditions and groups")
        }
        guard !rules.isEmpty else { return CompiledRule(sql: empty, parameters: []) }
        var parts: [String] = []
        var bindings: [CompiledRule.Binding] = []
        var windows = Set<EngagementWindow>()
        var drivers: [CompiledRule.Driver] = []
        for (i, rule) in rules.enumerated() {
            let compiled = try compile(rule, path: "\(path)[\(i)]", depth: depth + 1, conditions: &conditions)
            parts.append("(\(compiled.sql))")
            bindings += compiled.bindings
            windows.formUnion(compiled.windows)
            if let driver = compiled.driver { drivers.append(driver) }
        }
        return CompiledRule(sql: parts.joined(separator: " \(op) "), bindings: bindings, windows: windows,
                            driver: driver(of: drivers, op, count: rules.count))
    }

    /// A group's driver: any conjunct's of an `all` (every match satisfies
    /// it; the first is taken), exact only when it is the group's one part;
    /// an `any` has one only when it has one part.
    private static func driver(of drivers: [CompiledRule.Driver], _ op: String, count: Int) -> CompiledRule.Driver? {
        guard var first = drivers.first else { return nil }
        if count == 1 { return first }
        guard op == "AND" else { return nil }
        first.exact = false
        return first
    }

    // MARK: - Conditions

    private static func compile(_ c: RuleCondition, path: String) throws -> CompiledRule {
        let field = c.field.trimmedSpaces
        if c.op == .unspecified { throw PluginError.invalidArgument("\(path).op: set an operator") }
        if case .UNRECOGNIZED(let n) = c.op { throw PluginError.invalidArgument("\(path).op: unknown operator \(n)") }
        if let column = textColumns[field] {
            return try text(c, path: path, field: field, column: "p.\(column)")
        }
        switch field {
        case "lifecycle_stage": return try lifecycle(c, path: path)
        case "organization_id": return try organization(c, path: path)
        case "tag": return try tag(c, path: path)
        case "consent.email": return try consent(c, path: path, channel: 1)
        case "consent.sms": return try consent(c, path: path, channel: 2)
        case "engagement.opened": return try engagement(c, path: path, field: field, kind: .opened)
        case "engagement.clicked": return try engagement(c, path: path, field: field, kind: .clicked)
        default:
            if field.hasPrefix("custom.") { return try custom(c, path: path, key: String(field.dropFirst(7))) }
            throw PluginError.invalidArgument("\(path).field: unknown field \"\(c.field)\"; it takes \(fieldList)")
        }
    }

    private static func opName(_ op: Crm_Marketing_V1_RuleOperator) -> String {
        switch op {
        case .equals: "EQUALS"
        case .notEquals: "NOT_EQUALS"
        case .contains: "CONTAINS"
        case .startsWith: "STARTS_WITH"
        case .in: "IN"
        case .notIn: "NOT_IN"
        case .isSet: "IS_SET"
        case .isNotSet: "IS_NOT_SET"
        case .greaterThan: "GREATER_THAN"
        case .lessThan: "LESS_THAN"
        default: "\(op)"
        }
    }

    private static func refuse(_ c: RuleCondition, _ path: String, _ field: String) -> PluginError {
        .invalidArgument("\(path).op: \(opName(c.op)) does not apply to \(field)")
    }

    /// The one value of a single-value operator (`required`: not empty).
    private static func value(_ c: RuleCondition, _ path: String, required: Bool = false) throws -> String {
        guard c.values.isEmpty else { throw PluginError.invalidArgument("\(path).values: \(opName(c.op)) takes value, not values") }
        let v = c.value.trimmedSpaces
        try Validate.maxLength(v, "\(path).value", maxValueLength)
        if required && v.isEmpty { throw PluginError.invalidArgument("\(path).value is required for \(opName(c.op))") }
        return v
    }

    private static func values(_ c: RuleCondition, _ path: String) throws -> [String] {
        guard c.value.isEmpty else { throw PluginError.invalidArgument("\(path).value: \(opName(c.op)) takes values, not value") }
        guard !c.values.isEmpty, c.values.count <= maxValues else {
            throw PluginError.invalidArgument("\(path).values: \(opName(c.op)) takes 1 to \(maxValues) values")
        }
        return try c.values.enumerated().map { i, raw in
            let v = raw.trimmedSpaces
            try Validate.maxLength(v, "\(path).values[\(i)]", maxValueLength)
            return v
        }
    }

    private static func noValue(_ c: RuleCondition, _ path: String) throws {
        guard c.value.isEmpty, c.values.isEmpty else {
            throw PluginError.invalidArgument("\(path).value: \(opName(c.op)) takes no value")
        }
    }

    private static func marks(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ", ") }

    /// LIKE with the user's text escaped, so % and _ match themselves.
    static func likePattern(_ text: String, prefix: Bool) -> String {
        var out = ""
        for ch in text {
            if ch == "%" || ch == "_" || ch == "\\" { out.append("\\") }
            out.append(ch)
        }
        return (prefix ? "" : "%") + out + "%"
    }

    /// Text compared on a NOCASE column; "" is "not set".
    private static func text(_ c: RuleCondition, path: String, field: String, column: String) throws -> CompiledRule {
        switch c.op {
        case .equals: return CompiledRule(sql: "\(column) = ?", parameters: [.text(try value(c, path))])
        case .notEquals: return CompiledRule(sql: "\(column) <> ?", parameters: [.text(try value(c, path))])
        case .contains, .startsWith:
            let pattern = likePattern(try value(c, path, required: true), prefix: c.op == .startsWith)
            return CompiledRule(sql: "\(column) LIKE ? ESCAPE '\\'", parameters: [.text(pattern)])
        case .in, .notIn:
            let list = try values(c, path)
            return CompiledRule(sql: "\(column) \(c.op == .in ? "IN" : "NOT IN") (\(marks(list.count)))",
                                parameters: list.map { .text($0) })
        case .isSet: try noValue(c, path); return CompiledRule(sql: "\(column) <> ''", parameters: [])
        case .isNotSet: try noValue(c, path); return CompiledRule(sql: "\(column) = ''", parameters: [])
        default: throw refuse(c, path, field)
        }
    }

    /// The enum case named `text`, with or without its prefix, any case.
    static func enumValue<E: SwiftProtobuf.Enum & CaseIterable>(_ text: String, prefix: String, _: E.Type) -> E? {
        let upper = text.trimmedSpaces.uppercased()
        let name = upper.hasPrefix(prefix) ? upper : prefix + upper
        return E.allCases.first { protoName($0, prefix: prefix) == name }
    }

    /// "LIFECYCLE_STAGE_CUSTOMER" for `.customer`: the prefix and the Swift
    /// case name in upper snake case.
    static func protoName<E: SwiftProtobuf.Enum>(_ value: E, prefix: String) -> String {
        var out = prefix
        for ch in "\(value)" {
            if ch.isUppercase { out.append("_") }
            out += ch.uppercased()
        }
        return out
    }

    private static func stage(_ text: String, _ field: String) throws -> Int64 {
        guard let stage = enumValue(text, prefix: "LIFECYCLE_STAGE_", Crm_Contacts_V1_LifecycleStage.self) else {
            throw PluginError.invalidArgument("\(field): \"\(text)\" is not a lifecycle stage (e.g. LIFECYCLE_STAGE_CUSTOMER)")
        }
        return Int64(stage.rawValue)
    }

    private static func lifecycle(_ c: RuleCondition, path: String) throws -> CompiledRule {
        let column = "p.lifecycle_stage"
        switch c.op {
        case .equals, .notEquals:
            return CompiledRule(sql: "\(column) \(c.op == .equals ? "=" : "<>") ?",
                                parameters: [.integer(try stage(try value(c, path), "\(path).value"))])
        case .in, .notIn:
            let list = try values(c, path).enumerated().map { i, v in SQLValue.integer(try stage(v, "\(path).values[\(i)]")) }
            return CompiledRule(sql: "\(column) \(c.op == .in ? "IN" : "NOT IN") (\(marks(list.count)))", parameters: list)
        case .isSet: try noValue(c, path); return CompiledRule(sql: "\(column) <> 0", parameters: [])
        case .isNotSet: try noValue(c, path); return CompiledRule(sql: "\(column) = 0", parameters: [])
        case .greaterThan, .lessThan:
            // The funnel runs SUBSCRIBER (1) to EVANGELIST (6); OTHER and unset are on no side of it.
            let bound = try stage(try value(c, path), "\(path).value")
            return CompiledRule(sql: "\(column) BETWEEN 1 AND 6 AND \(column) \(c.op == .greaterThan ? ">" : "<") ?",
                                parameters: [.integer(bound)])
        default: throw refuse(c, path, "lifecycle_stage")
        }
    }

    private static func id(_ text: String, _ field: String) throws -> Int64 {
        guard let v = Int64(text), v > 0 else { throw PluginError.invalidArgument("\(field) must be a positive id, not \"\(text)\"") }
        return v
    }

    private static func organization(_ c: RuleCondition, path: String) throws -> CompiledRule {
        let column = "p.organization_id"
        switch c.op {
        case .equals, .notEquals:
            return CompiledRule(sql: "\(column) \(c.op == .equals ? "=" : "<>") ?",
                                parameters: [.integer(try id(try value(c, path), "\(path).value"))])
        case .in, .notIn:
            let list = try values(c, path).enumerated().map { i, v in SQLValue.integer(try id(v, "\(path).values[\(i)]")) }
            return CompiledRule(sql: "\(column) \(c.op == .in ? "IN" : "NOT IN") (\(marks(list.count)))", parameters: list)
        case .isSet: try noValue(c, path); return CompiledRule(sql: "\(column) <> 0", parameters: [])
        case .isNotSet: try noValue(c, path); return CompiledRule(sql: "\(column) = 0", parameters: [])
        default: throw refuse(c, path, "organization_id")
        }
    }

    private static func tag(_ c: RuleCondition, path: String) throws -> CompiledRule {
        let has = "EXISTS (SELECT 1 FROM marketing_person_tags t WHERE t.person_id = p.person_id"
        let hasNot = "NOT " + has
        switch c.op {
        case .equals:
            let tag = SQLValue.text(try value(c, path, required: true))
            // (person_id, tag) is the key (NOCASE, as the rule compares): one row per person.
            return CompiledRule(sql: "\(has) AND t.tag = ?)", bindings: [.value(tag)], windows: [],
                                driver: .init(table: "marketing_person_tags d", condition: "d.tag = ?",
                                              bindings: [.value(tag)], exact: true))
        case .notEquals:
            return CompiledRule(sql: "\(hasNot) AND t.tag = ?)", parameters: [.text(try value(c, path, required: true))])
        case .in, .notIn:
            let list = try values(c, path)
            return CompiledRule(sql: "\(c.op == .in ? has : hasNot) AND t.tag IN (\(marks(list.count))))",
                                parameters: list.map { .text($0) })
        case .contains, .startsWith:
            let pattern = likePattern(try value(c, path, required: true), prefix: c.op == .startsWith)
            return CompiledRule(sql: "\(has) AND t.tag LIKE ? ESCAPE '\\')", parameters: [.text(pattern)])
        case .isSet: try noValue(c, path); return CompiledRule(sql: "\(has))", parameters: [])
        case .isNotSet: try noValue(c, path); return CompiledRule(sql: "\(hasNot))", parameters: [])
        default: throw refuse(c, path, "tag")
        }
    }

    private static func custom(_ c: RuleCondition, path: String, key: String) throws -> CompiledRule {
        guard let first = key.first, first.isASCII && first.isLowercase, key.count <= 40,
              key.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) else {
            throw PluginError.invalidArgument("\(path).field: custom field key must match [a-z][a-z0-9_]{0,39}, got \"\(key)\"")
        }
        let has = "EXISTS (SELECT 1 FROM marketing_person_fields f WHERE f.person_id = p.person_id AND f.key = ?"
        let k = SQLValue.text(key)
        switch c.op {
        case .equals, .notEquals:
            let v = try value(c, path)
            let not = c.op == .notEquals ? "NOT " : ""
            // A number matches by value too: "12.5" finds "12.50".
            let number = Double(v).flatMap { $0.isFinite ? $0 : nil }
            func match(_ a: String) -> String {
                number == nil ? "\(a).value = ?" : "(\(a).value = ? OR (\(a).type = 2 AND \(a).num = ?))"
            }
            let bindings: [CompiledRule.Binding] = ([k, .text(v)] + (number.map { [SQLValue.real($0)] } ?? [])).map { .value($0) }
            // (person_id, key) is the key: one row per person. A number's
            // match (value or num) cannot use the (key, value) index past the
            // key, which every person may have: no faster than the scan.
            let driver = CompiledRule.Driver(table: "marketing_person_fields d", condition: "d.key = ? AND \(match("d"))",
                                             bindings: bindings, exact: true)
            return CompiledRule(sql: "\(not)\(has) AND \(match("f")))", bindings: bindings, windows: [],
                                driver: c.op == .equals && number == nil ? driver : nil)
        case .contains, .startsWith:
            let pattern = likePattern(try value(c, path, required: true), prefix: c.op == .startsWith)
            return CompiledRule(sql: "\(has) AND f.value LIKE ? ESCAPE '\\')", parameters: [k, .text(pattern)])
        case .in, .notIn:
            let list = try values(c, path)
            return CompiledRule(sql: "\(c.op == .in ? "" : "NOT ")\(has) AND f.value IN (\(marks(list.count))))",
                                parameters: [k] + list.map { .text($0) })
        case .isSet: try noValue(c, path); return CompiledRule(sql: "\(has) AND f.value <> '')", parameters: [k])
        case .isNotSet: try noValue(c, path); return CompiledRule(sql: "NOT \(has) AND f.value <> '')", parameters: [k])
        case .greaterThan, .lessThan:
            let v = try value(c, path, required: true)
            let cmp = c.op == .greaterThan ? ">" : "<"
            if let number = Double(v), number.isFinite {
                return CompiledRule(sql: "\(has) AND f.type = 2 AND f.num \(cmp) ?)", parameters: [k, .real(number)])
            }
            if Validate.isDate(v) {
                return CompiledRule(sql: "\(has) AND f.type = 3 AND f.value \(cmp) ?)", parameters: [k, .text(v)])
            }
            throw PluginError.invalidArgument("\(path).value: \(opName(c.op)) takes a number or a date (YYYY-MM-DD), not \"\(v)\"")
        default: throw refuse(c, path, "custom.\(key)")
        }
    }

    private static func consentStatus(_ text: String, _ field: String) throws -> Int64 {
        guard let status = enumValue(text, prefix: "CONSENT_STATUS_", Crm_Marketing_V1_ConsentStatus.self) else {
            throw PluginError.invalidArgument("\(field): \"\(text)\" is not a consent status (e.g. CONSENT_STATUS_SUBSCRIBED)")
        }
        return Int64(status.rawValue)
    }

    /// The consent feature's state table; no row is UNSPECIFIED (never asked).
    private static func consent(_ c: RuleCondition, path: String, channel: Int64) throws -> CompiledRule {
        let status = "COALESCE((SELECT c.status FROM marketing_consent_state c WHERE c.person_id = p.person_id AND c.channel = ?), 0)"
        let field = channel == 1 ? "consent.email" : "consent.sms"
        switch c.op {
        case .equals, .notEquals:
            return CompiledRule(sql: "\(status) \(c.op == .equals ? "=" : "<>") ?",
                                parameters: [.integer(channel), .integer(try consentStatus(try value(c, path), "\(path).value"))])
        case .in, .notIn:
            let list = try values(c, path).enumerated().map { i, v in
                SQLValue.integer(try consentStatus(v, "\(path).values[\(i)]"))
            }
            return CompiledRule(sql: "\(status) \(c.op == .in ? "IN" : "NOT IN") (\(marks(list.count)))",
                                parameters: [.integer(channel)] + list)
        default: throw refuse(c, path, field)
        }
    }

    /// A human open or click (machine ones never count) of campaign
    /// `campaign_id` (0: any) within the last `within_days` (0: ever).
    private static func engagement(_ c: RuleCondition, path: String, field: String, kind: EngagementKind) throws -> CompiledRule {
        guard c.op == .isSet || c.op == .isNotSet else { throw refuse(c, path, field) }
        guard c.campaignID >= 0 else { throw PluginError.invalidArgument("\(path).campaign_id must not be negative") }
        guard (0...3650).contains(c.withinDays) else {
            throw PluginError.invalidArgument("\(path).within_days must be 0 (ever) to 3650")
        }
        var sql = "EXISTS (SELECT 1 FROM marketing_engagement e WHERE e.person_id = p.person_id AND e.kind = ? AND e.machine = 0"
        var bindings: [CompiledRule.Binding] = [.value(.integer(Int64(kind.rawValue)))]
        var windows = Set<EngagementWindow>()
        if c.campaignID > 0 {
            sql += " AND e.campaign_id = ?"
            bindings.append(.value(.integer(c.campaignID)))
        }
        if c.withinDays > 0 {
            // An open exactly at the edge is in: at_us >= now - N days.
            sql += " AND e.at_us >= ?"
            bindings.append(.windowStart(days: c.withinDays))
            windows.insert(EngagementWindow(kind: Int64(kind.rawValue), campaignID: c.campaignID, days: c.withinDays))
        }
        sql += ")"
        return CompiledRule(sql: c.op == .isSet ? sql : "NOT \(sql)", bindings: bindings, windows: windows)
    }
}
