import B2BContract
import CRMPluginKit

/// Approval rules: a discount above a threshold or a total above a limit
/// needs the approval of someone holding the rule's approver permission
/// before the quote can be sent. crmd gives plugins the caller's rights per
/// permission (record scope), not their role names, so a rule names the
/// permission its approvers need: b2b.quote.approve (sales_manager has it
/// through b2b.*), or a narrower one a custom role grants.
enum ApprovalRules {
    static let schema = """
        CREATE TABLE b2b_approval_rules (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            kind INTEGER NOT NULL,
            threshold_bp INTEGER NOT NULL,
            limit_minor INTEGER NOT NULL,
            currency TEXT NOT NULL,
            approver_permission TEXT NOT NULL,
            active INTEGER NOT NULL,
            created_us INTEGER NOT NULL);
        CREATE INDEX b2b_approval_rules_active ON b2b_approval_rules (active, id);
        """
    static let defaultApproverPermission = "b2b.quote.approve"

    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "CreateApprovalRule", create)
        def.unary(B2B.service + "ListApprovalRules", list)
        def.unary(B2B.service + "DeactivateApprovalRule", deactivate)
    }

    static let columns = "id, name, kind, threshold_bp, limit_minor, currency, approver_permission, active, created_us"

    static func decode(_ row: [SQLValue]) -> ApprovalRule {
        ApprovalRule.with {
            $0.id = row.int(0)
            $0.name = row.text(1)
            $0.kind = Crm_B2b_V1_RuleKind(rawValue: Int(row.int(2))) ?? .unspecified
            $0.thresholdBp = row.int32(3)
            if $0.kind == .totalAbove { $0.limit = .with { $0.amountMinor = row.int(4); $0.currency = row.text(5) } }
            $0.approverPermission = row.text(6)
            $0.active = row.int(7) != 0
            $0.createdUnixUs = row.int(8)
        }
    }

    static func create(_ ctx: CallContext, _ req: Crm_B2b_V1_CreateApprovalRuleRequest) throws -> ApprovalRule {
        let db = try ctx.database
        let (previous, claim) = try B2B.idempotency.check(db, method: "CreateApprovalRule", req, key: \.idempotencyKey)
        if let id = previous, let row = try db.query("SELECT \(columns) FROM b2b_approval_rules WHERE id = ?",
                                                     [.integer(id)]).first { return decode(row) }
        var rule = req.rule
        try Check.text(&rule.name, "rule.name", max: 200, required: true)
        switch rule.kind {
        case .discountAbove:
            try Check.basisPoints(rule.thresholdBp, "rule.threshold_bp", max: 9_999)
            rule.clearLimit()
        case .totalAbove:
            guard rule.hasLimit else { throw PluginError.invalidArgument("rule.limit is required for RULE_KIND_TOTAL_ABOVE") }
            try Validate.currency(rule.limit.currency, "rule.limit.currency")
            try Check.amount(rule.limit.amountMinor, "rule.limit.amount_minor")
            rule.thresholdBp = 0
        default:
            throw PluginError.invalidArgument("rule.kind is required: RULE_KIND_DISCOUNT_ABOVE or RULE_KIND_TOTAL_ABOVE")
        }
        rule.approverPermission = rule.approverPermission.trimmedSpaces
        if rule.approverPermission.isEmpty { rule.approverPermission = defaultApproverPermission }
        guard isPermission(rule.approverPermission) else {
            throw PluginError.invalidArgument("rule.approver_permission \"\(rule.approverPermission.prefix(100))\" is not "
                + "b2b.<entity>.<action> (lowercase letters, digits and _)")
        }
        rule.active = true
        rule.createdUnixUs = UTCClock.nowMicros()
        rule.id = try db.execute("""
            INSERT INTO b2b_approval_rules (name, kind, threshold_bp, limit_minor, currency, approver_permission, active, created_us)
            VALUES (?, ?, ?, ?, ?, ?, 1, ?)
            """, [.text(rule.name), .integer(Int64(rule.kind.rawValue)), .integer(Int64(rule.thresholdBp)),
                  .integer(rule.limit.amountMinor), .text(rule.limit.currency), .text(rule.approverPermission),
                  .integer(rule.createdUnixUs)]).lastInsertID
        try audit(ctx, "create", old: nil, new: rule)
        try B2B.idempotency.record(db, claim, resultID: rule.id)
        return rule
    }

    static func list(_ ctx: CallContext, _ req: Crm_B2b_V1_ListApprovalRulesRequest) throws -> Crm_B2b_V1_ListApprovalRulesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if !req.includeInactive { filter.add("active = 1") }
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let page = try fetchPage(try ctx.database, "SELECT \(columns) FROM b2b_approval_rules \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: decode, key: { [$0[0]] })
        return .with {
            $0.rules = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    static func deactivate(_ ctx: CallContext, _ req: Crm_B2b_V1_DeactivateApprovalRuleRequest) throws -> ApprovalRule {
        let db = try ctx.database
        try Validate.positiveID(req.id, "id")
        guard let row = try db.query("SELECT \(columns) FROM b2b_approval_rules WHERE id = ?", [.integer(req.id)]).first else {
            throw PluginError.notFound("id: approval rule \(req.id) does not exist")
        }
        let before = decode(row)
        guard before.active else { return before }
        var rule = before
        rule.active = false
        try db.execute("UPDATE b2b_approval_rules SET active = 0 WHERE id = ?", [.integer(rule.id)])
        try audit(ctx, "deactivate", old: before, new: rule)
        return rule
    }

    // MARK: - Evaluation

    static func active(_ db: Database) throws -> [ApprovalRule] {
        try db.query("SELECT \(columns) FROM b2b_approval_rules WHERE active = 1 ORDER BY id").map(decode)
    }

    /// Why `rule` trips on the priced revision, or nil when it does not.
    static func reason(_ rule: ApprovalRule, _ priced: Crm_B2b_V1_PricedQuote) -> String? {
        switch rule.kind {
        case .discountAbove:
            for (s, section) in priced.content.sections.enumerated() {
                for (l, line) in section.lines.enumerated() where line.amountMinor > 0 && line.discountMinor > 0 {
                    // discount / amount > threshold, compared exactly.
                    if Int128(line.discountMinor) * 10_000 > Int128(rule.thresholdBp) * Int128(line.amountMinor) {
                        let share = Int64(clamping: Int128(line.discountMinor) * 10_000 / Int128(line.amountMinor))
                        return "line \(s + 1).\(l + 1) discount \(Format.percent(share)) above \(Format.percent(Int64(rule.thresholdBp)))"
                    }
                }
            }
            return nil
        case .totalAbove:
            guard rule.limit.currency == priced.currency, priced.totals.totalMinor > rule.limit.amountMinor else { return nil }
            return "total \(Format.money(priced.totals.totalMinor, priced.currency)) \(priced.currency) above "
                + "\(Format.money(rule.limit.amountMinor, priced.currency)) \(priced.currency)"
        default:
            return nil
        }
    }

    /// The approvals a revision needs: on a sent one, as they stood when it
    /// was sent; on a draft, every active rule that trips, with its decision.
    static func approvals(_ db: Database, _ record: QuoteStore.Record, _ revision: QuoteStore.Revision,
                          rules: [ApprovalRule]? = nil) throws -> [RequiredApproval] {
        if revision.status == .sent { return revision.frozenApprovals ?? [] }
        let tripped = try (rules ?? active(db)).compactMap { rule in reason(rule, revision.priced).map { (rule, $0) } }
        guard !tripped.isEmpty else { return [] }
        var decisions: [Int64: [SQLValue]] = [:]
        for row in try db.query("""
            SELECT rule_id, decision, decided_by, comment, decided_us FROM b2b_approvals WHERE quote_id = ? AND revision = ?
            """, [.integer(record.id), .integer(Int64(revision.revision))]) { decisions[row.int(0)] = row }
        return tripped.map { rule, reason in
            RequiredApproval.with {
                $0.ruleID = rule.id
                $0.ruleName = rule.name
                $0.approverPermission = rule.approverPermission
                $0.reason = reason
                $0.decision = .pending
                if let row = decisions[rule.id] {
                    $0.decision = Crm_B2b_V1_Decision(rawValue: Int(row.int(1))) ?? .pending
                    $0.decidedBy = row.text(2)
                    $0.comment = row.text(3)
                    $0.decidedUnixUs = row.int(4)
                }
            }
        }
    }

    /// "b2b.<entity>.<action>": lowercase segments of letters, digits and _, each starting with a letter.
    static func isPermission(_ text: String) -> Bool {
        let segments = text.split(separator: ".", omittingEmptySubsequences: false)
        guard text.utf8.count <= 100, segments.count == 3, segments[0] == "b2b" else { return false }
        return segments.allSatisfy { segment in
            guard let first = segment.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
            return segment.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        }
    }

    static func audit(_ ctx: CallContext, _ action: String, old: ApprovalRule?, new: ApprovalRule) throws {
        func fields(_ r: ApprovalRule) -> [String: String] {
            var f = ["name": r.name, "kind": "\(r.kind)", "approver_permission": r.approverPermission,
                     "active": r.active ? "true" : "false"]
            if r.kind == .discountAbove { f["threshold_bp"] = String(r.thresholdBp) }
            if r.hasLimit { f["limit"] = "\(Format.money(r.limit.amountMinor, r.limit.currency)) \(r.limit.currency)" }
            return f
        }
        try ctx.audit(AuditEntry(entity: "b2b.approval_rule", recordID: String(new.id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }
}
