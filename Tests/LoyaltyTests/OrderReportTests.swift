import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// Favourite items per customer and the menu-engineering figures
/// (regulars against everyone), refunds taken off.
@Suite struct OrderReportTests {
    struct Café {
        let world: LoyaltyWorld
        let ann: Int64
        let ben: Int64
        let now: Int64
    }

    /// Ann: three orders (a regular); Ben: one, partly refunded; one anonymous; one in USD.
    func café() async throws -> Café {
        let world = try LoyaltyWorld()
        let ann = try await world.person("Ann")
        let ben = try await world.person("Ben")
        let hour: Int64 = 3_600_000_000
        let now = nowMicros()
        let loyalty = world.loyalty
        _ = try await loyalty.postOrder(person: ann, lines: [orderLine("latte", 2, 350)], placed: now - 3 * hour, key: "a1")
        _ = try await loyalty.postOrder(person: ann, lines: [orderLine("latte", 1, 350), orderLine("cake", 1, 500, category: "pastry")],
                                        placed: now - 2 * hour, key: "a2")
        _ = try await loyalty.postOrder(person: ann, lines: [orderLine("muffin", 1, 300)], placed: now - hour, key: "a3")
        let bens = try await loyalty.postOrder(person: ben, lines: [orderLine("cake", 2, 500, category: "pastry"), orderLine("tea", 1, 250)],
                                               placed: now - hour, key: "b1")
        _ = try await loyalty.refundOrder(bens.order.id, lines: [(1, 1)], key: "b1-refund")
        _ = try await loyalty.postOrder(lines: [orderLine("tea", 3, 250)], placed: now - hour, key: "anon")
        _ = try await loyalty.postOrder(person: ann, currency: "USD", lines: [orderLine("latte", 9, 400)], placed: now - hour, key: "usd")
        return Café(world: world, ann: ann, ben: ben, now: now)
    }

    func favourites(_ c: Café, _ order: Crm_Loyalty_V1_FavouriteOrder, pageSize: Int32 = 0,
                    token: String = "") async throws -> Crm_Loyalty_V1_ListFavouriteItemsResponse {
        try await c.world.loyalty.callOrders("ListFavouriteItems", Crm_Loyalty_V1_ListFavouriteItemsRequest.with {
            $0.personID = c.ann; $0.orderBy = order; $0.pageSize = pageSize; $0.pageToken = token
        })
    }

    @Test func favouritesAreMostOrderedOrMostRecentAPageAtATime() async throws {
        let c = try await café()
        let first = try await favourites(c, .mostOrdered, pageSize: 2)
        // The USD lattes count too: favourites are about items, not money.
        #expect(first.items.map(\.itemID) == ["latte", "cake"] && first.items.map(\.quantity) == [12, 1])
        #expect(first.items[0].orders == 3 && first.items[1].name == "Cake" && first.items[1].category == "pastry")
        let rest = try await favourites(c, .mostOrdered, pageSize: 2, token: first.nextPageToken)
        #expect(rest.items.map(\.itemID) == ["muffin"] && rest.nextPageToken.isEmpty)
        // One item a page: each item once, in order, though latte's lines differ in quantity.
        var walked: [String] = []
        var token = ""
        repeat {
            let page = try await favourites(c, .mostOrdered, pageSize: 1, token: token)
            walked += page.items.map(\.itemID)
            token = page.nextPageToken
        } while !token.isEmpty && walked.count < 10
        #expect(walked == ["latte", "cake", "muffin"])
        let recent = try await favourites(c, .mostRecent)
        #expect(recent.items.map(\.itemID) == ["latte", "muffin", "cake"])
        #expect(recent.items[0].lastOrderedUnixUs == c.now - 3_600_000_000)
        // A period: only the first order.
        let early: Crm_Loyalty_V1_ListFavouriteItemsResponse = try await c.world.loyalty.callOrders(
            "ListFavouriteItems", Crm_Loyalty_V1_ListFavouriteItemsRequest.with {
                $0.personID = c.ann; $0.placedUntilUnixUs = c.now - 2 * 3_600_000_000
            })
        #expect(early.items.map(\.itemID) == ["latte"] && early.items[0].quantity == 2)
    }

    @Test func theMenuReportSetsRegularsAgainstEveryoneWithRefundsTakenOff() async throws {
        let c = try await café()
        func report(pageSize: Int32 = 0, token: String = "") async throws -> Crm_Loyalty_V1_MenuReport {
            try await c.world.loyalty.callOrders("GetMenuReport", Crm_Loyalty_V1_MenuReportRequest.with {
                $0.currency = "EUR"; $0.pageSize = pageSize; $0.pageToken = token
            })
        }
        let first = try await report(pageSize: 2)
        #expect(first.orders == 5 && first.revenue == 3350 && first.regulars == 1 && first.regularOrders == 3 && first.regularRevenue == 1850)
        #expect(first.items.map(\.itemID) == ["latte", "cake"])
        let latte = first.items[0], cake = first.items[1]
        #expect(latte.quantity == 3 && latte.revenue == 1050 && latte.orders == 2 && latte.regularQuantity == 3 && latte.regularRevenue == 1050)
        #expect(cake.quantity == 2 && cake.revenue == 1000 && cake.orders == 2)
        #expect(cake.regularQuantity == 1 && cake.regularRevenue == 500 && cake.regularOrders == 1)
        let rest = try await report(pageSize: 2, token: first.nextPageToken)
        #expect(rest.items.map(\.itemID) == ["tea", "muffin"] && rest.orders == 5)
        let tea = rest.items[0]
        #expect(tea.quantity == 4 && tea.revenue == 1000 && tea.regularQuantity == 0 && tea.regularOrders == 0)
        // With one order enough to be a regular, Ben is one too.
        let looser: Crm_Loyalty_V1_MenuReport = try await c.world.loyalty.callOrders("GetMenuReport", Crm_Loyalty_V1_MenuReportRequest.with {
            $0.currency = "EUR"; $0.regularMinOrders = 1
        })
        #expect(looser.regulars == 2 && looser.regularOrders == 4 && looser.regularRevenue == 2600)
    }

    @Test func badReportRequestsAreRefusedWithTheFieldNamed() async throws {
        let world = try LoyaltyWorld()
        await expectRPCError(.invalidArgument, mentioning: "person_id") {
            let _: Crm_Loyalty_V1_ListFavouriteItemsResponse = try await world.loyalty.callOrders(
                "ListFavouriteItems", Crm_Loyalty_V1_ListFavouriteItemsRequest())
        }
        await expectRPCError(.invalidArgument, mentioning: "order_by") {
            let _: Crm_Loyalty_V1_ListFavouriteItemsResponse = try await world.loyalty.callOrders(
                "ListFavouriteItems", Crm_Loyalty_V1_ListFavouriteItemsRequest.with { $0.personID = 1; $0.orderBy = .UNRECOGNIZED(9) })
        }
        await expectRPCError(.invalidArgument, mentioning: "placed_from_unix_us") {
            let _: Crm_Loyalty_V1_ListFavouriteItemsResponse = try await world.loyalty.callOrders(
                "ListFavouriteItems", Crm_Loyalty_V1_ListFavouriteItemsRequest.with { $0.personID = 1; $0.placedFromUnixUs = -1 })
        }
        await expectRPCError(.invalidArgument, mentioning: "currency") {
            let _: Crm_Loyalty_V1_MenuReport = try await world.loyalty.callOrders("GetMenuReport", Crm_Loyalty_V1_MenuReportRequest())
        }
        await expectRPCError(.invalidArgument, mentioning: "regular_min_orders") {
            let _: Crm_Loyalty_V1_MenuReport = try await world.loyalty.callOrders("GetMenuReport", Crm_Loyalty_V1_MenuReportRequest.with {
                $0.currency = "EUR"; $0.regularMinOrders = -1
            })
        }
    }
}
