import CRMKernelContract

/// One permission of a role: a name or pattern, and how far it reaches
/// among records (stored and shown; enforced where rows are read later).
struct RoleGrant: Sendable, Equatable {
    var pattern: String
    var scope: Crm_Kernel_V1_RecordScope
}

/// A role: a named set of permissions.
struct AccessRole: Sendable {
    var name: String
    var description: String
    var grants: [RoleGrant]
}

/// The first-party roles, as data. Permission names are those the modules'
/// .proto options declare (proto/crm/<module>/v1); a role may name a
/// module's permissions by prefix (marketing, service).
/// Pattern rules are in `PermissionPattern`.
enum FirstPartyRoles {
    static let administrator = "administrator"

    static let all: [AccessRole] = [
        role(administrator, "Everything, every record.", [("*", .all)]),
        // `*.gdpr_export`: a person's export asks every loaded module for its
        // part with the caller's rights, so whoever may export needs them all.
        role("sales_manager", "Runs the sales team: all of sales, b2b and contacts, reports, every record, GDPR exports, quote approvals.",
             [("sales.*", .all), ("contacts.*", .all), ("b2b.*", .all), ("*.gdpr_export", .all), subscribe]),
        role("sales_rep", "Works their own leads, opportunities, activities and the people and organizations they own.",
             [("sales.lead.*", .own), ("sales.opportunity.*", .own), ("sales.activity.*", .own),
              ("sales.report.read", .own), ("sales.pipeline.read", .all), ("sales.team.read", .all),
              ("contacts.person.read", .own), ("contacts.person.write", .own), ("contacts.person.export", .own),
              ("contacts.organization.read", .own), ("contacts.organization.write", .own),
              ("contacts.timeline.read", .own), ("contacts.custom_field.read", .all),
              // Quotes of their own opportunities; the catalog and the approval rules to read. Never b2b.quote.approve.
              ("b2b.quote.read", .own), ("b2b.quote.write", .own), ("b2b.quote.send", .own),
              // Deals (scorecards, committees) of their own opportunities; the deal pipelines to read.
              ("b2b.deal.read", .own), ("b2b.deal.write", .own), ("b2b.deal_pipeline.read", .all),
              ("b2b.product.read", .all), ("b2b.price_book.read", .all), ("b2b.approval_rule.read", .all), subscribe]),
        role("marketing", "Segments, campaigns and consent; reads contacts.",
             [("marketing.*", .all), ("*.read", .all), ("contacts.person.export", .all), subscribe]),
        role("service_agent", "Works tickets assigned to them or their team; reads contacts.",
             [("service.*", .team), ("contacts.person.read", .all), ("contacts.organization.read", .all),
              ("contacts.timeline.read", .all), subscribe]),
        // What a mail server's pipe (crmctl ingest-email) runs as: it files
        // mail for anyone, so it finds and makes contacts at scope all.
        role("service_mail_gateway", "Files inbound email as tickets and replies and reads what it filed (service's Mailbox); finds and creates the senders as contacts.",
             [("service.email.ingest", .all), ("service.email.read", .all), ("contacts.person.read", .all), ("contacts.person.write", .all)]),
        role("service_manager", "All of service, every record; reads contacts.",
             [("service.*", .all), ("contacts.person.read", .all),
              ("contacts.organization.read", .all), ("contacts.timeline.read", .all), subscribe]),
        // A cashier charges and redeems; adjusting balances, reversing
        // postings, voiding or expiring cards, credit limits, house-account
        // members and reconciling are an administrator's (or a custom role's).
        role("cashier", "Loyalty at the till: enrol, post and refund orders, earn, redeem, holds, sell and refund gift cards, charge and pay house accounts; reads tiers and people.",
             till + [("loyalty.program.read", .all), ("loyalty.tier.read", .all), ("contacts.person.read", .all), subscribe]),
        // A loyalty manager also runs the programme: programs, tier
        // ladders, tiers set by hand; still no balance corrections.
        role("loyalty_manager", "A cashier's rights, plus programs, tier ladders and tiers set by hand (with a reason, audited).",
             till + [("loyalty.program.*", .all), ("loyalty.tier.read", .all), ("loyalty.tier.set", .all),
                     ("contacts.person.read", .all), subscribe]),
        role("read_only", "Reads everything, writes nothing.", [("*.read", .all), subscribe]),
    ]

    /// What a cashier does at the till (a loyalty manager too).
    private static let till: [(String, Crm_Kernel_V1_RecordScope)] = [
        ("loyalty.account.*", .all), ("loyalty.points.*", .all), ("loyalty.hold.*", .all),
        ("loyalty.ledger.read", .all), ("loyalty.gift_card.issue", .all), ("loyalty.gift_card.activate", .all),
        ("loyalty.gift_card.load", .all), ("loyalty.gift_card.redeem", .all), ("loyalty.gift_card.refund", .all),
        ("loyalty.gift_card.read", .all), ("loyalty.gift_card.lookup", .all),
        ("loyalty.house_account.charge", .all), ("loyalty.house_account.pay", .all),
        ("loyalty.house_account.read", .all), ("loyalty.order.*", .all),
    ]

    /// Every role may open an event stream: crmd sends each caller only
    /// the events its other permissions and scopes let it read.
    private static let subscribe = ("kernel.events.read", Crm_Kernel_V1_RecordScope.all)

    static let byName: [String: AccessRole] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    private static func role(_ name: String, _ description: String,
                             _ grants: [(String, Crm_Kernel_V1_RecordScope)]) -> AccessRole {
        AccessRole(name: name, description: description, grants: grants.map { RoleGrant(pattern: $0.0, scope: $0.1) })
    }
}

/// A permission pattern, precisely:
/// - `*` matches every permission;
/// - `a.b.*` (ends in `.*`) matches every permission that starts with `a.b.`;
/// - `*.read` (starts with `*.`) matches every permission whose last
///   dot-separated segment is `read`;
/// - anything else matches only the permission spelled exactly so.
/// No other `*` is special. `*.<action>` never matches the permissions in
/// `explicitOnly`: the audit trail holds the values of every record, so a
/// role that reads "everything" (read_only, marketing) does not read it
/// unless granted it by name, `kernel.*` or `*`.
enum PermissionPattern {
    static let explicitOnly: Set<String> = ["kernel.audit.read"]

    /// Whether a custom role may hold `pattern`: one of the forms above,
    /// each segment lowercase letters, digits and '_' starting with a
    /// letter; an exact permission has at least three segments.
    static func isValid(_ pattern: String) -> Bool {
        guard pattern.utf8.count <= 200 else { return false }
        if pattern == "*" { return true }
        func segmentsValid(_ text: Substring, atLeast count: Int) -> Bool {
            let segments = text.split(separator: ".", omittingEmptySubsequences: false)
            return segments.count >= count && segments.allSatisfy { segment in
                guard let first = segment.first, first.isASCII, first.isLowercase else { return false }
                return segment.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
            }
        }
        if pattern.hasSuffix(".*") { return segmentsValid(pattern.dropLast(2), atLeast: 1) }
        if pattern.hasPrefix("*.") { return segmentsValid(pattern.dropFirst(2), atLeast: 1) && !pattern.dropFirst(2).contains(".") }
        return segmentsValid(Substring(pattern), atLeast: 3)
    }

    static func matches(_ pattern: String, _ permission: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix(".*") { return permission.hasPrefix(pattern.dropLast()) }
        if pattern.hasPrefix("*.") {
            if explicitOnly.contains(permission) { return false }
            let action = pattern.dropFirst(2)
            return permission.split(separator: ".").last.map { $0 == action } ?? false
        }
        return pattern == permission
    }
}

/// What a user may do: the union of their roles' permissions, split for a
/// quick check (an exact hit is one hash lookup, patterns are few).
final class Rights: Sendable {
    let everything: Bool
    let exact: Set<String>
    let prefixes: [String]
    let actions: [Substring]
    /// Every grant with the role it came from, for scope and explanations.
    let grants: [(role: String, grant: RoleGrant)]

    convenience init(patterns: [String]) {
        self.init(grants: patterns.map { (role: "", grant: RoleGrant(pattern: $0, scope: .all)) })
    }

    init(grants: [(role: String, grant: RoleGrant)]) {
        self.grants = grants
        let patterns = grants.map(\.grant.pattern)
        everything = patterns.contains("*")
        exact = Set(patterns.filter { !$0.contains("*") })
        prefixes = patterns.filter { $0 != "*" && $0.hasSuffix(".*") }.map { String($0.dropLast()) }
        actions = patterns.filter { $0.hasPrefix("*.") && !$0.hasSuffix(".*") }.map { $0.dropFirst(2) }
    }

    static let administrator = Rights(patterns: ["*"])

    /// The widest scope among the grants matching `permission`;
    /// `.unspecified` when none does.
    func reach(for permission: String) -> Crm_Kernel_V1_RecordScope {
        var widest = Crm_Kernel_V1_RecordScope.unspecified
        for (_, grant) in grants where grant.scope.rawValue > widest.rawValue
            && PermissionPattern.matches(grant.pattern, permission) {
            widest = grant.scope
            if widest == .all { break }
        }
        return widest
    }

    func allows(_ permission: String) -> Bool {
        if everything || exact.contains(permission) { return true }
        for prefix in prefixes where permission.hasPrefix(prefix) { return true }
        if !actions.isEmpty, !PermissionPattern.explicitOnly.contains(permission),
           let last = permission.split(separator: ".").last {
            for action in actions where last == action { return true }
        }
        return false
    }
}
