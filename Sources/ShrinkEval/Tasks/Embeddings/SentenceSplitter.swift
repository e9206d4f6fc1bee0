import Foundation

/// Splits running prose (the Austen novels) into the units the embedding task encodes: sentences, and the
/// clauses Austen separates with a semicolon or colon. Deterministic and documented so that a report's unit
/// count can be reproduced; tools/reference/minilm_goldens.py holds the same rule in Python and the tests
/// check both agree on the evaluation novels.
///
/// The rule:
/// 1. A line holding only spaces, tabs or CR ends a paragraph; a paragraph's whitespace collapses to single spaces.
/// 2. `--` right after `.`, `!`, `?`, `;` or `:` (and any closing `"` `'` `)` `]` `_`) becomes a space: Austen's
///    "afterwards.--She" is two sentences.
/// 3. A unit ends after a space-separated word that, less its trailing closers, ends in `.`, `!`, `?`, `;` or
///    `:` — except a `.` after one of `abbreviations` ("Mr.", "Mrs.", ...). A paragraph's end ends a unit.
/// 4. Units without an ASCII letter, and chapter headings ("Chapter 12", "CHAPTER IV."), are dropped.
///
/// On data/text/evaluation.txt (Persuasion + Northanger Abbey) this gives 10,062 units, 9,904 distinct.
public enum SentenceSplitter {
    public static let abbreviations: Set<String> = ["Mr", "Mrs", "Dr", "St", "Messrs", "Esq", "Capt", "Col", "Rev", "Mme", "Ms"]
    static let closers: Set<Character> = ["\"", "'", ")", "]", "_"]
    static let openers: Set<Character> = ["\"", "'", "(", "_", "["]
    static let enders: Set<Character> = [".", "!", "?", ";", ":"]

    public static func units(in text: String) -> [String] {
        var units: [String] = []
        var paragraph: [Substring] = []
        func flush() {
            if !paragraph.isEmpty { split(paragraph: paragraph.joined(separator: " "), into: &units) }
            paragraph.removeAll()
        }
        // "\r\n" is one Character in Swift: normalise it first so lines split on "\n".
        for line in text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { flush() } else { paragraph.append(line) }
        }
        flush()
        return units.filter(keep)
    }

    static func split(paragraph raw: String, into units: inout [String]) {
        // Rule 1, then rule 2 on the collapsed text.
        let collapsed = Array(raw.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        var text: [Character] = []
        text.reserveCapacity(collapsed.count)
        var i = 0
        while i < collapsed.count {
            if collapsed[i] == "-", i + 1 < collapsed.count, collapsed[i + 1] == "-" {
                var j = text.count - 1
                while j >= 0, closers.contains(text[j]) { j -= 1 }
                if j >= 0, enders.contains(text[j]) { text.append(" "); i += 2; continue }
            }
            text.append(collapsed[i]); i += 1
        }
        var current: [Substring] = []
        let joined = String(text)
        for word in joined.split(separator: " ") {
            current.append(word)
            var core = word[...]
            while let last = core.last, closers.contains(last) { core = core.dropLast() }
            guard let last = core.last, enders.contains(last) else { continue }
            if last == "." {
                var stem = core
                while let l = stem.last, enders.contains(l) { stem = stem.dropLast() }
                while let f = stem.first, openers.contains(f) { stem = stem.dropFirst() }
                if abbreviations.contains(String(stem)) { continue }
            }
            units.append(current.joined(separator: " ")); current.removeAll()
        }
        if !current.isEmpty { units.append(current.joined(separator: " ")) }
    }

    static func keep(_ unit: String) -> Bool {
        guard unit.unicodeScalars.contains(where: { ("A"..."Z").contains($0) || ("a"..."z").contains($0) }) else { return false }
        let words = unit.split(separator: " ")
        if words.count == 2, words[0].lowercased() == "chapter" {
            var number = words[1][...]
            if number.last == "." { number = number.dropLast() }
            if !number.isEmpty, number.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) { return false }
        }
        return true
    }
}
