import B2BContract
import CRMPluginKit

/// Sending a revision (approval rules checked, the document rendered and
/// frozen with its hash), approving or rejecting one, and rendering.
enum QuoteSending {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "SendQuote", send)
        def.unary(B2B.service + "ApproveQuote", approve)
        def.unary(B2B.service + "RejectQuote", reject)
        def.unary(B2B.service + "RenderQuote", render)
    }

    static func render(_ ctx: CallContext, _ req: Crm_B2b_V1_RenderQuoteRequest) throws -> Crm_B2b_V1_RenderedQuote {
        let db = try ctx.database
        let record = try QuoteStore.require(db, req.id, readableIn: ctx.scope)
        let revision = try QuoteStore.requireRevision(db, record, req.revision)
        var out = Crm_B2b_V1_RenderedQuote.with {
            $0.quoteID = record.id
            $0.revision = revision.revision
            $0.status = revision.status
        }
        if revision.status == .sent, let document = revision.document {
            out.html = String(decoding: document, as: UTF8.self)
            out.contentHash = revision.contentHash
        } else {
            let rendered = try QuoteDocument.render(record, revision)
            out.html = rendered.html
            out.contentHash = rendered.hash
        }
        return out
    }

    static func send(_ ctx: CallContext, _ req: Crm_B2b_V1_SendQuoteRequest) throws -> Quote {
        let db = try ctx.database
        var record = try QuoteStore.require(db, req.id, writableIn: ctx.scope)
        var revision = try QuoteStore.requireRevision(db, record, req.revision)
        if revision.status == .sent {
            // Sent already: the same answer, nothing written (a retry is safe).
            return QuoteStore.assemble(record, revision, approvals: revision.frozenApprovals ?? [])
        }
        guard revision.revision == record.currentRevision else {
            throw PluginError.failedPrecondition("revision \(revision.revision) of quote \(record.id) is superseded by "
                + "revision \(record.currentRevision)")
        }
        guard revision.priced.content.sections.contains(where: { !$0.lines.isEmpty }) else {
            throw PluginError.failedPrecondition("quote \(record.id) has no lines to send")
        }
        let opportunity = try Links.opportunity(ctx, record.opportunityID, field: "opportunity_id")
        guard opportunity.status == .open else {
            throw PluginError.failedPrecondition("quote \(record.id): its opportunity \(opportunity.id) is closed")
        }
        let approvals = try ApprovalRules.approvals(db, record, revision)
        let missing = approvals.filter { $0.decision != .approved }
        guard missing.isEmpty else {
            throw PluginError.failedPrecondition("quote \(record.id) revision \(revision.revision) cannot be sent: "
                + missing.map(describe).joined(separator: "; "))
        }
        let rendered = try QuoteDocument.render(record, revision)
        let before = (record, revision)
        let now = UTCClock.nowMicros()
        revision.status = .sent
        revision.document = Array(rendered.html.utf8)
        revision.contentHash = rendered.hash
        revision.frozenApprovals = approvals
        revision.sentUs = now
        revision.sentBy = ctx.user ?? ""
        revision.updatedUs = now
        try QuoteStore.markSent(db, revision)
        record.version += 1
        record.updatedUs = now
        try QuoteStore.save(db, record)
        try B2BAudit.quote(ctx, "send", old: before, new: (record, revision))
        try B2BEvents.quote(ctx, "sent", record, revision, "Quote \(record.id) revision \(revision.revision) sent: "
            + "\(Format.money(revision.priced.totals.totalMinor, record.currency)) \(record.currency)")
        return QuoteStore.assemble(record, revision, approvals: approvals)
    }

    static func describe(_ approval: RequiredApproval) -> String {
        let rule = "approval rule \(approval.ruleID) \"\(approval.ruleName)\" (\(approval.reason))"
        if approval.decision == .rejected {
            return "\(rule) was rejected by \(approval.decidedBy.isEmpty ? "an administrator" : approval.decidedBy)"
                + (approval.comment.isEmpty ? "" : ": \(approval.comment)")
        }
        return "\(rule) needs the approval of a holder of \(approval.approverPermission)"
    }

    static func approve(_ ctx: CallContext, _ req: Crm_B2b_V1_ApproveQuoteRequest) throws -> Quote {
        try decide(ctx, id: req.id, revision: req.revision, ruleID: req.ruleID, comment: req.comment, decision: .approved)
    }

    static func reject(_ ctx: CallContext, _ req: Crm_B2b_V1_RejectQuoteRequest) throws -> Quote {
        guard !req.comment.trimmedSpacesAndNewlines.isEmpty else {
            throw PluginError.invalidArgument("comment is required: say why the quote is rejected")
        }
        return try decide(ctx, id: req.id, revision: req.revision, ruleID: req.ruleID, comment: req.comment, decision: .rejected)
    }

    /// Records `decision` on the tripped rules chosen (one, or every one the
    /// caller may decide), for the current draft revision only.
    static func decide(_ ctx: CallContext, id: Int64, revision number: Int32, ruleID: Int64, comment rawComment: String,
                       decision: Crm_B2b_V1_Decision) throws -> Quote {
        try Validate.positiveID(id, "id")
        guard number > 0 else { throw PluginError.invalidArgument("revision is required: the revision you decide on") }
        try Validate.optionalID(ruleID, "rule_id")
        let comment = rawComment.trimmedSpacesAndNewlines
        try Validate.maxLength(comment, "comment", 2000)
        let db = try ctx.database
        var record = try QuoteStore.require(db, id, writableIn: ctx.scope)
        let revision = try QuoteStore.requireRevision(db, record, number)
        guard revision.revision == record.currentRevision else {
            throw PluginError.failedPrecondition("revision \(number) of quote \(id) is superseded by revision \(record.currentRevision)")
        }
        guard revision.status == .draft else {
            throw PluginError.failedPrecondition("revision \(number) of quote \(id) was sent already; approvals are for drafts")
        }
        if let user = ctx.user, user == record.owner {
            throw PluginError.failedPrecondition("quote \(id) is yours (\(user)): its approval must come from someone else")
        }
        let approvals = try ApprovalRules.approvals(db, record, revision)
        let targets: [RequiredApproval]
        if ruleID != 0 {
            guard try !db.query("SELECT 1 FROM b2b_approval_rules WHERE id = ?", [.integer(ruleID)]).isEmpty else {
                throw PluginError.notFound("rule_id: approval rule \(ruleID) does not exist")
            }
            guard let approval = approvals.first(where: { $0.ruleID == ruleID }) else {
                throw PluginError.failedPrecondition("rule_id: approval rule \(ruleID) does not apply to revision \(number) "
                    + "of quote \(id) (inactive, or it does not trip)")
            }
            guard holds(ctx, approval.approverPermission) else {
                throw PluginError(.permissionDenied, "approval rule \(ruleID) needs an approver holding \(approval.approverPermission)")
            }
            targets = [approval]
        } else {
            guard !approvals.isEmpty else {
                throw PluginError.failedPrecondition("no approval rule trips on revision \(number) of quote \(id): it needs no approval")
            }
            targets = approvals.filter { holds(ctx, $0.approverPermission) }
            guard !targets.isEmpty else {
                throw PluginError(.permissionDenied, "the approval rules of quote \(id) need approvers holding "
                    + Set(approvals.map(\.approverPermission)).sorted().joined(separator: " or "))
            }
        }
        let user = ctx.user ?? ""
        let now = UTCClock.nowMicros()
        var changes: [FieldChange] = []
        for target in targets where target.decision != decision {
            if target.decision != .pending {
                throw PluginError.failedPrecondition("approval rule \(target.ruleID) on revision \(number) of quote \(id) was "
                    + "\(target.decision == .approved ? "approved" : "rejected") already by "
                    + (target.decidedBy.isEmpty ? "an administrator" : target.decidedBy) + "; an edit starts the approvals again")
            }
            try db.execute("""
                INSERT INTO b2b_approvals (quote_id, revision, rule_id, decision, decided_by, comment, decided_us)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [.integer(id), .integer(Int64(number)), .integer(target.ruleID), .integer(Int64(decision.rawValue)),
                      .text(user), .text(comment), .integer(now)])
            changes.append(FieldChange("approval.rule_\(target.ruleID)", old: "pending",
                                       new: (decision == .approved ? "approved" : "rejected") + (user.isEmpty ? "" : " by \(user)")))
        }
        guard !changes.isEmpty else { return QuoteStore.assemble(record, revision, approvals: approvals) }
        record.version += 1
        record.updatedUs = now
        try QuoteStore.save(db, record)
        let verb = decision == .approved ? "approve" : "reject"
        try ctx.audit(AuditEntry(entity: "b2b.quote", recordID: String(id), action: verb, owner: ownerOrNil(record.owner),
                                 changes: changes))
        try B2BEvents.quote(ctx, decision == .approved ? "approved" : "rejected", record, revision,
                            "Quote \(id) revision \(number) \(verb == "approve" ? "approved" : "rejected")"
                                + (user.isEmpty ? "" : " by \(user)"))
        return QuoteStore.assemble(record, revision, approvals: try ApprovalRules.approvals(db, record, revision))
    }

    /// Whether the caller holds `permission` through any of their roles
    /// (crmd's own uid and root hold every one).
    static func holds(_ ctx: CallContext, _ permission: String) -> Bool {
        ctx.scope(for: permission).reach != .none
    }
}
