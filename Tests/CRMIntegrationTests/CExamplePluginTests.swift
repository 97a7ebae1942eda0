import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

typealias CreateBooking = Crm_Example_Tablebooking_V1_CreateBookingRequest
typealias Booking = Crm_Example_Tablebooking_V1_Booking

/// The example industry plugin written in C with protobuf-c, loaded by crmd
/// and called over the socket.
@Suite struct CExamplePluginTests {
    let service = "/crm.example.tablebooking.v1.TableBooking/"
    let sixPM: Int64 = 1_798_740_000  // 2027-01-01 18:00 UTC

    @Test func bookingsAreCreatedReadAndListedPageByPage() async throws {
        let crmd = try CrmdProcess(plugins: ["tablebooking"])
        let client = try crmd.connect()
        var ids: [UInt64] = []
        for (guest, size) in [("Ada", 2), ("Grace", 4), ("Edsger", 5)] {
            let booking = try await client.call(service + "CreateBooking", CreateBooking.with {
                $0.guestName = guest; $0.partySize = UInt32(size); $0.startsAt = sixPM
            }, as: Booking.self)
            #expect(booking.guestName == guest)
            ids.append(booking.id)
        }
        let tables = try await ids.asyncMap { id in
            try await client.call(service + "GetBooking", Crm_Example_Tablebooking_V1_GetBookingRequest.with { $0.id = id },
                                  as: Booking.self).table
        }
        #expect(tables == ["T1", "T3", "T5"])  // the smallest table that seats each party

        var listed: [UInt64] = []
        var token = ""
        repeat {
            let page = try await client.call(service + "ListBookings", Crm_Example_Tablebooking_V1_ListBookingsRequest.with {
                $0.pageSize = 2; $0.pageToken = token
            }, as: Crm_Example_Tablebooking_V1_ListBookingsResponse.self)
            listed += page.bookings.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(listed == ids)
    }

    @Test func bookingsAreStoredWithTheirEventAndSurviveARestart() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let first = try CrmdProcess(plugins: ["tablebooking"], dataDir: dataDir)
        var client = try first.connect()
        let booking = try await client.call(service + "CreateBooking", CreateBooking.with {
            $0.guestName = "Barbara"; $0.partySize = 8; $0.startsAt = sixPM
        }, as: Booking.self)
        // The only 8-seat table is taken: refused, and nothing is stored or published.
        await #expect(throws: RPCError(.resourceExhausted, "no table for 8 at that time")) {
            _ = try await client.call(service + "CreateBooking", CreateBooking.with {
                $0.guestName = "Niklaus"; $0.partySize = 8; $0.startsAt = sixPM + 3600
            }, as: Booking.self)
        }
        _ = try first.stop()

        let second = try CrmdProcess(plugins: ["tablebooking"], dataDir: dataDir)
        client = try second.connect()
        let again = try await client.call(service + "GetBooking",
                                          Crm_Example_Tablebooking_V1_GetBookingRequest.with { $0.id = booking.id },
                                          as: Booking.self)
        #expect(again == booking)
        let events = try await replay(client)
        #expect(events.map(\.topic) == ["tablebooking.booking.created"])
        #expect(try Booking(serializedBytes: try #require(events.first).payload) == booking)
        // Two hours later the table is free again.
        _ = try await client.call(service + "CreateBooking", CreateBooking.with {
            $0.guestName = "Niklaus"; $0.partySize = 8; $0.startsAt = sixPM + 7200
        }, as: Booking.self)
    }

    @Test func badInputGetsTheRightStatusNamingTheField() async throws {
        let crmd = try CrmdProcess(plugins: ["tablebooking"])
        let client = try crmd.connect()
        func create(_ build: (inout CreateBooking) -> Void) async throws -> RPCError? {
            var request = CreateBooking.with { $0.guestName = "Ada"; $0.partySize = 2; $0.startsAt = sixPM }
            build(&request)
            do {
                _ = try await client.call(service + "CreateBooking", request, as: Booking.self)
                return nil
            } catch let error as RPCError { return error }
        }
        let noName = try await create { $0.guestName = "" }
        #expect(noName?.code == .invalidArgument && noName?.message.contains("guest_name") == true)
        let tooMany = try await create { $0.partySize = 40 }
        #expect(tooMany?.code == .invalidArgument && tooMany?.message.contains("party_size") == true)
        let past = try await create { $0.startsAt = 0 }
        #expect(past?.code == .invalidArgument && past?.message.contains("starts_at") == true)
    }

    @Test func invalidUTF8AndUndecodableRequestsAreInvalidArgument() async throws {
        let crmd = try CrmdProcess(plugins: ["tablebooking"])
        let client = try crmd.connect()
        // field 1 (guest_name), length 2, bytes that are not UTF-8
        do {
            _ = try await client.call(service + "CreateBooking", [0x0a, 0x02, 0xc3, 0x28, 0x10, 0x02, 0x18, 0x01])
            Issue.record("invalid UTF-8 accepted")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("UTF-8"))
        }
        do {
            _ = try await client.call(service + "CreateBooking", [0x0a, 0x7f, 0x01])
            Issue.record("truncated message accepted")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument)
        }
    }

    @Test func fullRestaurantIsResourceExhaustedAndMissingBookingNotFound() async throws {
        let crmd = try CrmdProcess(plugins: ["tablebooking"])
        let client = try crmd.connect()
        for _ in 0..<6 {
            _ = try await client.call(service + "CreateBooking", CreateBooking.with {
                $0.guestName = "Party"; $0.partySize = 2; $0.startsAt = sixPM
            }, as: Booking.self)
        }
        do {
            _ = try await client.call(service + "CreateBooking", CreateBooking.with {
                $0.guestName = "Late"; $0.partySize = 2; $0.startsAt = sixPM + 3600
            }, as: Booking.self)
            Issue.record("a seventh overlapping booking found a table")
        } catch let error as RPCError {
            #expect(error.code == .resourceExhausted)
        }
        do {
            _ = try await client.call(service + "GetBooking", Crm_Example_Tablebooking_V1_GetBookingRequest.with { $0.id = 999 },
                                      as: Booking.self)
            Issue.record("missing booking found")
        } catch let error as RPCError {
            #expect(error.code == .notFound)
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
