import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import Foundation
import Testing

/// Approval rules: a quote that trips one cannot be sent before someone
/// holding the rule's approver permission approves it.
@Suite struct ApprovalTests {
    func discounted(_ world: B2BWorld, _ bp: Int32) -> BContent {
        Q.content([Q.section("Goods", [Q.line("10", product: world.widget.id, taxBp: 2000),
                                       Q.line("4", product: world.support.id, discountBp: bp, taxBp: 2000)])])
    }

    @Test func aQuoteNeedingApprovalCannotBeSentBeforeIt() async throws {
        let world = try await B2BWorld.start()
        let rule = try await world.admin.discountRule("Discount over 20 %", above: 2000)
        #expect(rule.approverPermission == "b2b.quote.approve" && rule.active)
        let deal = try await world.opportunity(owner: "ann")
        let quote = try await world.ann.createQuote(opportunity: deal.opportunity.id, currency: "EUR", discounted(world, 2500))
        #expect(quote.approvals.count == 1)
        #expect(quote.approvals[0].decision == .pending && quote.approvals[0].ruleID == rule.id)
        #expect(quote.approvals[0].reason == "line 1.2 discount 25 % above 20 %")
        await expectRPCError(.failedPrecondition, mentioning: "approval rule \(rule.id) \"Discount over 20 %\" (line 1.2 discount 25 % above 20 %) needs the approval of a holder of b2b.quote.approve") {
            try await world.ann.send(quote.id)
        }
        // A rep may not approve (crmd: the method's permission); the manager may.
        await expectRPCError(.permissionDenied, mentioning: "lacks permission b2b.quote.approve") {
            try await world.ann.approve(quote.id, revision: 1)
        }
        await expectRPCError(.invalidArgument, mentioning: "revision is required") { try await world.meg.approve(quote.id, revision: 0) }
        let approved = try await world.meg.approve(quote.id, revision: 1, comment: "strategic account")
        #expect(approved.approvals[0].decision == .approved && approved.approvals[0].decidedBy == "meg")
        #expect(approved.approvals[0].comment == "strategic account" && approved.version == quote.version + 1)
        #expect(try await world.meg.approve(quote.id, revision: 1).version == approved.version, "approving again changes nothing")
        let sent = try await world.ann.send(quote.id)
        #expect(sent.status == .sent && sent.approvals == approved.approvals, "the approvals are frozen with the revision")
        await expectRPCError(.failedPrecondition, mentioning: "was sent already") { try await world.meg.approve(quote.id, revision: 1) }
        // Under the threshold: no approval needed.
        let small = try await world.ann.createQuote(opportunity: deal.opportunity.id, currency: "EUR", discounted(world, 2000))
        #expect(small.approvals.isEmpty)
        #expect(try await world.ann.send(small.id).status == .sent)
        await expectRPCError(.failedPrecondition, mentioning: "no approval rule trips") {
            try await world.meg.approve(try await world.ann.createQuote(opportunity: deal.opportunity.id, currency: "EUR",
                                                                        discounted(world, 0)).id, revision: 1)
        }
    }

    @Test func anEditClearsApprovalsAndARejectionBlocksSending() async throws {
        let world = try await B2BWorld.start()
        let discount = try await world.admin.discountRule("Discount over 10 %", above: 1000)
        let total = try await world.admin.totalRule("Over 1,000 EUR", above: 100_000, "EUR")
        _ = try await world.admin.totalRule("Over 10 USD", above: 1000, "USD")  // another currency: never applies here
        let deal = try await world.opportunity(owner: "ann")
        let big = Q.content([Q.section("Goods", [Q.line("100", product: world.widget.id, discountBp: 1500)])])
        let quote = try await world.ann.createQuote(opportunity: deal.opportunity.id, currency: "EUR", big)
        #expect(quote.approvals.map(\.ruleID) == [discount.id, total.id])
        #expect(quote.approvals[1].reason == "total 1062.50 EUR above 1000.00 EUR")
        let one = try await world.meg.approve(quote.id, revision: 1, rule: total.id)
        #expect(one.approvals.map(\.decision) == [.pending, .approved])
        await expectRPCError(.failedPrecondition, mentioning: "approval rule \(discount.id) \"Discount over 10 %\"") {
            try await world.ann.send(quote.id)
        }
        // Editing the draft clears every decision: they were about other content.
        var changed = big
        changed.sections[0].lines[0].quantity = "101"
        let edited = try await world.ann.updateQuote(quote.id, changed)
        #expect(edited.approvals.map(\.decision) == [.pending, .pending])
        let rejected = try await world.meg.reject(quote.id, revision: 1, rule: discount.id, comment: "too deep")
        #expect(rejected.approvals[0].decision == .rejected)
        await expectRPCError(.failedPrecondition, mentioning: "was rejected by meg: too deep") { try await world.ann.send(quote.id) }
        await expectRPCError(.failedPrecondition, mentioning: "was rejected already by meg") {
            try await world.meg.approve(quote.id, revision: 1, rule: discount.id)
        }
        await expectRPCError(.invalidArgument, mentioning: "comment is required") {
            try await world.meg.reject(quote.id, revision: 1, rule: total.id, comment: " ")
        }
        await expectRPCError(.notFound, mentioning: "rule_id: approval rule 99 does not exist") {
            try await world.meg.approve(quote.id, revision: 1, rule: 99)
        }
        // A deactivated rule no longer applies.
        _ = try await world.admin.call("DeactivateApprovalRule", Crm_B2b_V1_DeactivateApprovalRuleRequest.with { $0.id = discount.id },
                                       as: Crm_B2b_V1_ApprovalRule.self)
        #expect(try await world.ann.getQuote(quote.id).approvals.map(\.ruleID) == [total.id])
        await expectRPCError(.failedPrecondition, mentioning: "does not apply to revision 1") {
            try await world.meg.approve(quote.id, revision: 1, rule: discount.id)
        }
        _ = try await world.meg.approve(quote.id, revision: 1)
        #expect(try await world.ann.send(quote.id).status == .sent)
        let rules: Crm_B2b_V1_ListApprovalRulesResponse = try await world.ann.call("ListApprovalRules", Crm_B2b_V1_ListApprovalRulesRequest())
        #expect(rules.rules.map(\.id) == [total.id, total.id + 1])
    }

    /// Roles are not visible to plugins; a rule names the permission its
    /// approvers need. A custom role with b2b.quote.approve but not the
    /// rule's narrower permission is refused, naming it; the quote's owner
    /// never approves their own quote.
    @Test func approversNeedTheRulesPermissionAndAreNotTheOwner() async throws {
        let world = try await B2BWorld.start()
        _ = try await world.connection.call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "deal_desk"
            $0.permissions = ["b2b.quote.read", "b2b.quote.approve"].map { p in .with { $0.permission = p; $0.scope = .all } }
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.createUser(world.crmd, "dora", roles: ["deal_desk"])
        let dora = B2BClient(connection: world.connection, metadata: AccessSupport.actingAs("dora"))
        let large = try await world.admin.totalRule("Large deals", above: 10_000, "EUR", permission: "b2b.quote.approve_large")
        let deal = try await world.opportunity(owner: "ann")
        let quote = try await world.ann.createQuote(opportunity: deal.opportunity.id, currency: "EUR",
                                                    Q.content([Q.section("G", [Q.line("10", product: world.widget.id)])]))
        await expectRPCError(.permissionDenied, mentioning: "approval rule \(large.id) needs an approver holding b2b.quote.approve_large") {
            try await dora.approve(quote.id, revision: 1, rule: large.id)
        }
        await expectRPCError(.permissionDenied, mentioning: "need approvers holding b2b.quote.approve_large") {
            try await dora.approve(quote.id, revision: 1)
        }
        // meg's b2b.* holds it.
        #expect(try await world.meg.approve(quote.id, revision: 1).approvals[0].decision == .approved)
        // A manager's own quote needs someone else.
        let megs = try await world.opportunity(owner: "meg", organization: "Initech")
        let own = try await world.meg.createQuote(opportunity: megs.opportunity.id, currency: "EUR",
                                                  Q.content([Q.section("G", [Q.line("10", product: world.widget.id)])]))
        await expectRPCError(.failedPrecondition, mentioning: "is yours (meg): its approval must come from someone else") {
            try await world.meg.approve(own.id, revision: 1)
        }
        await expectRPCError(.invalidArgument, mentioning: "rule.approver_permission") {
            try await world.admin.totalRule("Bad", above: 1, "EUR", permission: "sales.quote.approve")
        }
        await expectRPCError(.invalidArgument, mentioning: "rule.threshold_bp") { try await world.admin.discountRule("Bad", above: 10_000) }
        await expectRPCError(.invalidArgument, mentioning: "rule.limit.currency") { try await world.admin.totalRule("Bad", above: 1, "eur") }
        await expectRPCError(.invalidArgument, mentioning: "rule.kind is required") {
            _ = try await world.admin.call("CreateApprovalRule", Crm_B2b_V1_CreateApprovalRuleRequest.with { $0.rule.name = "x" },
                                           as: Crm_B2b_V1_ApprovalRule.self)
        }
        await expectRPCError(.permissionDenied, mentioning: "lacks permission b2b.approval_rule.write") {
            try await world.ann.discountRule("Mine", above: 100)
        }
    }
}
