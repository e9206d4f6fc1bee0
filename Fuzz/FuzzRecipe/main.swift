import FuzzSupport
import ShrinkQuant


/// libFuzzer target: a recipe file, and a plan file as `shrink plan` writes it (a `models` list of recipes),
/// read by `RecipeFile.load` for a model that is and one that is not in the list.
func fuzzRecipe(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    FuzzInput.withFile(bytes, name: "recipe.json") { path in
        fuzzSink(try? RecipeFile.load(path: path, model: "trm_mlp_sudoku6"))
        fuzzSink(try? RecipeFile.load(path: path, model: ""))
    }
    return 0
}

fuzzMain(fuzzRecipe)
