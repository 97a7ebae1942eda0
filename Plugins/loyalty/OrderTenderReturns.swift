import CRMPluginKit
import LoyaltyContract

/// A refund's amount back to the order's tenders (orders.proto, Returns):
/// split in proportion to what each has left to return, so that the
/// refunds of an order together return every tender exactly what it paid.
enum OrderTenderReturns {
    /// Returns `amount` of the order to its tenders; nothing when it has none.
    static func giveBack(_ ctx: CallContext, _ db: Database, order: Order, amount: Int64) throws -> [TenderReturn] {
        let tenders = try OrderTenders.load(db, order: order.id)
        guard !tenders.isEmpty, amount > 0 else { return [] }
        let shares = Apportion.split(amount, over: tenders.map { $0.amount - $0.returnedAmount })
        let label = order.orderRef.isEmpty ? String(order.id) : order.orderRef
        let reason = "refund of order \(label)"
        var returns: [TenderReturn] = []
        for (tender, share) in zip(tenders, shares) where share > 0 {
            var back = TenderReturn()
            back.tenderNumber = tender.tenderNumber
            back.kind = tender.kind
            back.amount = share
            let returnedAfter = tender.returnedAmount + share
            switch tender.kind {
            case .giftCard:
                let row = try GiftCards.require(ctx, db, tender.accountID, write: true)
                if (try? GiftCards.requireUsable(row)) != nil {
                    let result = try Ledger.move(ctx, db, .refund, account: row.account, amount: share, system: .redeemed, reason: reason,
                                                 references: .init(refunds: tender.postingID))
                    try LoyaltyEvents.publish(ctx, "loyalty.gift_card.refunded", account: result.account, posting: result.posting,
                                              summary: "Gift card …\(row.card.codeHint): \(LoyaltyEvents.amount(share, row.account.unit)) "
                                                  + "refunded (\(reason))")
                    back.postingID = result.posting.id
                } else {
                    back.payOut = true
                }
            case .houseAccount:
                let account = try HouseAccounts.require(ctx, db, tender.accountID, write: true)
                if account.status == .active {
                    let result = try Ledger.move(ctx, db, .refund, account: account, amount: share, system: .charges, reason: reason,
                                                 references: .init(refunds: tender.postingID))
                    try HouseEvents.publish(ctx, "loyalty.house_account.refunded", account: result.account, posting: result.posting,
                                            summary: "\(LoyaltyEvents.amount(share, account.unit)) credited to the house account (\(reason))")
                    back.postingID = result.posting.id
                } else {
                    back.payOut = true
                }
            case .points:
                let points = EarnRules.share(tender.points, part: returnedAfter, of: tender.amount) - tender.returnedPoints
                back.points = points
                if points > 0 {
                    let account = try Ledger.customerAccount(ctx, db, tender.accountID, write: true)
                    let result = try Ledger.move(ctx, db, .refund, account: account, amount: points, system: .pointsRedeemed,
                                                 reason: reason, references: .init(refunds: tender.postingID)) { _ in
                        try PointLots.giveBack(db, posting: tender.postingID, points: points)
                    }
                    try LoyaltyEvents.publish(ctx, "loyalty.points.refunded", account: result.account, posting: result.posting,
                                              summary: "\(points) points given back (\(reason))")
                    back.postingID = result.posting.id
                }
            default:
                back.payOut = true
            }
            try db.execute("""
                UPDATE loyalty_order_tenders SET returned_amount = ?, returned_points = returned_points + ?
                WHERE order_id = ? AND tender_number = ?
                """, [.integer(returnedAfter), .integer(back.points), .integer(order.id), .integer(Int64(tender.tenderNumber))])
            returns.append(back)
        }
        return returns
    }
}
