import B2BTestClient
import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import SalesTestClient
import Testing

/// Item 6 of issue 16, the terms that act by themselves: an auto-renewing
/// contract renews at its end unless the customer gave notice in time.
@Suite(.serialized) struct AutoRenewalTests {
    static let day = B2BWorld.day

    func terms(endingIn micros: Int64, noticeDays: Int32 = 0, autoRenew: Bool = true) -> BTerms {
        let now = nowMicros()
        var terms = B2BWorld.terms(start: now - 20 * Self.day)
        terms.endUnixUs = now + micros
        terms.noticeDays = noticeDays
        terms.autoRenew = autoRenew
        return terms
    }

    func giveNotice(_ world: B2BWorld, _ id: Int64, reason: String = "budget cut", key: String) async throws -> BContract {
        try await world.meg.call("GiveNotice", Crm_B2b_V1_GiveNoticeRequest.with {
            $0.id = id; $0.reason = reason; $0.idempotencyKey = key
        })
    }

    @Test func anAutoRenewingContractRenewsItselfAtItsEndAndWinsItsOpenRenewal() async throws {
        let world = try await B2BWorld.signing(leadDays: 30)
        let signed = try await world.signedContract(terms: terms(endingIn: 4_000_000), tag: "a").contract
        // Within the lead time at once: the renewal opportunity comes first.
        #expect(try await eventually(timeout: 6) { try await world.contract(signed.id).renewalOpportunityID != 0 })
        let renewal = try await world.contract(signed.id).renewalOpportunityID
        #expect(try await eventually(timeout: 15) { try await world.contract(signed.id).autoRenewals == 1 })
        let renewed = try await world.contract(signed.id)
        #expect(renewed.status == .active && renewed.termsVersion == 2)
        #expect(renewed.terms.startUnixUs == signed.terms.endUnixUs)
        #expect(renewed.terms.endUnixUs == signed.terms.endUnixUs + (signed.terms.endUnixUs - signed.terms.startUnixUs))
        #expect(renewed.terms.value.amountMinor == 22050, "21000 with the 5 % uplift")
        #expect(try await world.sales.getOpportunity(renewal).status == .won, "the open renewal is booked as won")
        let versions: Crm_B2b_V1_ListContractVersionsResponse = try await world.meg.call("ListContractVersions",
            Crm_B2b_V1_ListContractVersionsRequest.with { $0.contractID = signed.id })
        #expect(versions.versions.map(\.reason) == ["signed", "auto-renewed (renewal opportunity \(renewal) won)"])
        // The new term, due within the lead time too, gets its own renewal;
        // the won one's event does not mark the contract renewed.
        #expect(try await eventually(timeout: 6) {
            let now = try await world.contract(signed.id)
            return now.renewalOpportunityID != 0 && now.renewalOpportunityID != renewal
        })
        #expect(try await world.contract(signed.id).status == .active)
        let again: Crm_B2b_V1_AutoRenewContractResponse = try await world.admin.call("AutoRenewContract",
            Crm_B2b_V1_AutoRenewContractRequest.with { $0.contractID = signed.id })
        #expect(!again.renewed && again.contract.autoRenewals == 1, "once per term: the new end has not passed")
    }

    @Test func noticeInTimeStopsTheAutoRenewalAndLateNoticeIsRefused() async throws {
        let world = try await B2BWorld.signing(leadDays: 0)
        let ending = try await world.signedContract(terms: terms(endingIn: 8_000_000), tag: "a").contract
        let fixed = try await world.signedContract(terms: terms(endingIn: 8_000_000, autoRenew: false), tag: "b").contract
        let late = try await world.signedContract(terms: terms(endingIn: 10 * Self.day, noticeDays: 60), tag: "c").contract
        let noticed = try await giveNotice(world, ending.id, key: "n1")
        #expect(noticed.noticeGivenUnixUs > 0 && noticed.noticeReason == "budget cut" && noticed.version == ending.version + 1)
        #expect(try await giveNotice(world, ending.id, key: "n1") == noticed, "a retry is answered, not recorded again")
        await expectRPCError(.failedPrecondition, mentioning: "notice for contract \(ending.id) was already given") {
            try await giveNotice(world, ending.id, key: "n2")
        }
        await expectRPCError(.failedPrecondition, mentioning: "notice for contract \(late.id) was due by") {
            try await giveNotice(world, late.id, key: "n3")
        }
        await expectRPCError(.invalidArgument, mentioning: "reason") { try await giveNotice(world, late.id, reason: " ", key: "n4") }
        await expectRPCError(.permissionDenied, mentioning: "b2b.contract.write") {
            let _: BContract = try await world.ann.call("GiveNotice", Crm_B2b_V1_GiveNoticeRequest.with {
                $0.id = late.id; $0.reason = "x"; $0.idempotencyKey = "n5"
            })
        }
        // Past both ends, several job runs later: neither renewed by itself.
        let wait = (max(ending.terms.endUnixUs, fixed.terms.endUnixUs) - nowMicros()) / 1000 + 3000
        try await Task.sleep(for: .milliseconds(max(0, wait)))
        for id in [ending.id, fixed.id] {
            let now = try await world.contract(id)
            #expect(now.autoRenewals == 0 && now.termsVersion == 1 && now.status == .active, "contract \(id)")
        }
        let direct: Crm_B2b_V1_AutoRenewContractResponse = try await world.admin.call("AutoRenewContract",
            Crm_B2b_V1_AutoRenewContractRequest.with { $0.contractID = ending.id })
        #expect(!direct.renewed && direct.contract.termsVersion == 1)
        await expectRPCError(.invalidArgument, mentioning: "contract_id") {
            let _: Crm_B2b_V1_AutoRenewContractResponse = try await world.admin.call("AutoRenewContract",
                Crm_B2b_V1_AutoRenewContractRequest.with { $0.contractID = -1 })
        }
        await expectRPCError(.notFound, mentioning: "contract_id: contract 999 does not exist") {
            let _: Crm_B2b_V1_AutoRenewContractResponse = try await world.admin.call("AutoRenewContract",
                Crm_B2b_V1_AutoRenewContractRequest.with { $0.contractID = 999 })
        }
        await expectRPCError(.permissionDenied, mentioning: "b2b.renewal.run") {
            let _: Crm_B2b_V1_AutoRenewContractResponse = try await world.ann.call("AutoRenewContract",
                Crm_B2b_V1_AutoRenewContractRequest.with { $0.contractID = ending.id })
        }
    }
}
