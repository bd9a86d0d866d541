//! `gan-bias features`: the classifier's features, one per line with its index.
//!
//! Owns: the command's flow. Must not touch: other commands, the dispatch.

use anyhow::Result;

use super::common::ClassifierArgs;

pub fn run(args: ClassifierArgs) -> Result<()> {
    let cls = args.load(None)?;
    for (i, name) in cls.features.iter().enumerate() {
        println!("{i:>3}  {name}");
    }
    Ok(())
}
