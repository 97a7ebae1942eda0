import CRMKernelCore
import Testing

@Suite struct TopicPatternTests {
    private func pattern(_ text: String) throws -> TopicPattern { try #require(TopicPattern(text)) }

    @Test func exactPatternMatchesOnlyItself() throws {
        let p = try pattern("contacts.contact.created")
        #expect(p.matches("contacts.contact.created"))
        #expect(!p.matches("contacts.contact.updated"))
        #expect(!p.matches("contacts.contact"))
        #expect(!p.matches("contacts.contact.created.extra"))
    }

    @Test func starMatchesExactlyOneSegment() throws {
        let p = try pattern("contacts.*.created")
        #expect(p.matches("contacts.person.created"))
        #expect(!p.matches("contacts.created"))
        #expect(!p.matches("contacts.a.b.created"))
        #expect(try pattern("*").matches("anything"))
        #expect(try !pattern("*").matches("two.segments"))
    }

    @Test func finalGreaterThanMatchesOneOrMore() throws {
        let p = try pattern("sales.>")
        #expect(p.matches("sales.lead"))
        #expect(p.matches("sales.lead.converted.again"))
        #expect(!p.matches("sales"), "> needs at least one segment")
        #expect(!p.matches("salesx.lead"))
    }

    @Test(arguments: ["", ".", "a..b", "a.", ".a", "a.>.b", ">.a"])
    func refusesMalformed(_ text: String) {
        #expect(TopicPattern(text) == nil)
    }

    @Test func segmentsAreWholeWordsNotGlobs() throws {
        #expect(try !pattern("sales.le*").matches("sales.lead"))
        #expect(try pattern("sales.le*").matches("sales.le*"))
    }

    @Test func anyOfAnEmptyListMatchesEverything() throws {
        #expect(TopicPattern.any([], match: "x.y"))
        let patterns = [try pattern("a.*"), try pattern("b.>")]
        #expect(TopicPattern.any(patterns, match: "b.c.d"))
        #expect(!TopicPattern.any(patterns, match: "c.d"))
    }

    @Test func publishableTopics() {
        #expect(TopicPattern.isValidTopic("sales.lead_2.created", publisher: "sales"))
        #expect(!TopicPattern.isValidTopic("sales", publisher: "sales"), "needs two segments")
        #expect(!TopicPattern.isValidTopic("contacts.contact.created", publisher: "sales"), "another plugin's prefix")
        #expect(!TopicPattern.isValidTopic("sales.Lead", publisher: "sales"))
        #expect(!TopicPattern.isValidTopic("sales..x", publisher: "sales"))
        #expect(!TopicPattern.isValidTopic("sales.*", publisher: "sales"))
        #expect(!TopicPattern.isValidTopic("sales." + String(repeating: "a", count: 200), publisher: "sales"))
    }
}
