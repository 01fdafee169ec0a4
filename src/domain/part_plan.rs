use super::{MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE};

/// How an upload's bytes are split: one PUT, or S3 multipart parts of `part_size` bytes
/// (the last part takes the remainder).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartPlan {
    pub size: u64,
    pub part_size: u64,
    pub part_count: u32,
    pub multipart: bool,
}

/// One part of a plan: its number (from 1) and exact length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedPart {
    pub number: u32,
    pub size: u64,
}

impl PartPlan {
    /// Plans `size` bytes: a single PUT up to `multipart_threshold`, otherwise multipart.
    pub fn new(size: u64, multipart_threshold: u64, target_part_size: u64) -> Self {
        if size <= multipart_threshold {
            Self::single(size)
        } else {
            Self::multipart(size, target_part_size)
        }
    }

    /// One PUT (or POST) of the whole file.
    pub fn single(size: u64) -> Self {
        Self {
            size,
            part_size: size,
            part_count: 1,
            multipart: false,
        }
    }

    /// Parts of `target_part_size`, grown to `ceil(size / 10,000)` when the file would need more
    /// than 10,000 parts. That is the rule Uppy's S3 uploader chunks by, so a plan made with its
    /// chunk size matches the parts it sends byte for byte.
    pub fn multipart(size: u64, target_part_size: u64) -> Self {
        let part_size = target_part_size
            .max(size.div_ceil(MAX_PARTS))
            .clamp(MIN_PART_SIZE, MAX_PART_SIZE);
        Self {
            size,
            part_size,
            part_count: size.div_ceil(part_size).max(1) as u32,
            multipart: true,
        }
    }

    /// The plan a client asks for by choosing its part size (to hash parts before asking): one
    /// PUT when a part holds the whole file, else parts of exactly that size.
    pub fn with_part_size(size: u64, part_size: u64) -> Result<Self, super::InvalidInput> {
        // The range holds even when one PUT takes the file, so the document can state it.
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(super::InvalidInput::PartSize);
        }
        if part_size >= size && size <= super::MAX_SINGLE_PUT_SIZE {
            return Ok(Self::single(size));
        }
        if size.div_ceil(part_size) > MAX_PARTS {
            return Err(super::InvalidInput::PartSize);
        }
        Ok(Self {
            size,
            part_size,
            part_count: size.div_ceil(part_size) as u32,
            multipart: true,
        })
    }

    /// Rebuilds a plan from stored columns.
    pub fn from_stored(size: u64, part_size: u64, part_count: u32, multipart: bool) -> Self {
        Self {
            size,
            part_size,
            part_count,
            multipart,
        }
    }

    pub fn contains(&self, number: u32) -> bool {
        (1..=self.part_count).contains(&number)
    }

    /// The part numbered `number`, if the plan has it.
    pub fn part(&self, number: u32) -> Option<PlannedPart> {
        if !self.contains(number) {
            return None;
        }
        let offset = u64::from(number - 1) * self.part_size;
        Some(PlannedPart {
            number,
            size: self.part_size.min(self.size - offset),
        })
    }

    pub fn parts(&self) -> impl Iterator<Item = PlannedPart> + '_ {
        (1..=self.part_count).filter_map(|n| self.part(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn small_files_are_one_put_of_their_exact_size() {
        let plan = PartPlan::new(MIB, 8 * MIB, 8 * MIB);
        assert!(!plan.multipart);
        assert_eq!(plan.part_count, 1);
        assert_eq!(plan.part(1).unwrap().size, MIB);
        assert!(plan.part(2).is_none());
    }

    #[test]
    fn parts_add_up_to_the_file_and_only_the_last_is_short() {
        let size = 100 * 1000 * 1000;
        let plan = PartPlan::new(size, 8 * MIB, 8 * MIB);
        assert!(plan.multipart);
        assert_eq!(plan.part_count, 12);
        let parts: Vec<_> = plan.parts().collect();
        assert_eq!(parts.iter().map(|p| p.size).sum::<u64>(), size);
        assert!(parts[..11].iter().all(|p| p.size == 8 * MIB));
        assert!(parts[11].size < 8 * MIB);
    }

    #[test]
    fn huge_files_grow_the_part_size_to_stay_within_ten_thousand_parts() {
        let size = 5 * 1024 * 1024 * MIB; // 5 TiB
        let plan = PartPlan::new(size, 8 * MIB, 8 * MIB);
        assert!(u64::from(plan.part_count) <= MAX_PARTS);
        assert_eq!(plan.part_size, size.div_ceil(MAX_PARTS));
        assert!(plan.part_size >= MIN_PART_SIZE);
    }

    #[test]
    fn parts_are_never_below_the_s3_minimum() {
        let plan = PartPlan::new(20 * MIB, MIB, MIB);
        assert_eq!(plan.part_size, MIN_PART_SIZE);
        assert_eq!(plan.part_count, 4);
    }

    #[test]
    fn numbers_outside_the_plan_are_not_parts() {
        let plan = PartPlan::new(20 * MIB, 8 * MIB, 8 * MIB);
        assert!(!plan.contains(0));
        assert!(plan.contains(3));
        assert!(!plan.contains(4));
    }
}

#[cfg(test)]
mod uppy_chunking {
    use super::*;

    /// Uppy's S3 uploader: max(5 MiB, chunk size), widened to ceil(size / 10,000) past 10,000
    /// parts; chunks of that size, the last one shorter.
    fn uppy_chunks(size: u64, chunk_size: u64) -> Vec<u64> {
        let mut chunk = chunk_size.max(MIN_PART_SIZE);
        if size.div_ceil(chunk) > MAX_PARTS {
            chunk = size.div_ceil(MAX_PARTS);
        }
        (0..size)
            .step_by(chunk as usize)
            .map(|start| chunk.min(size - start))
            .collect()
    }

    #[test]
    fn multipart_plans_match_uppys_chunks() {
        let mib = 1024 * 1024;
        for size in [
            5 * mib,
            5 * mib + 1,
            31 * mib + 7,
            60 * mib,
            100_000 * mib + 3,
        ] {
            let plan = PartPlan::multipart(size, MIN_PART_SIZE);
            let ours: Vec<u64> = plan.parts().map(|p| p.size).collect();
            assert_eq!(
                ours,
                uppy_chunks(size, size.div_ceil(MAX_PARTS)),
                "size {size}"
            );
        }
    }
}
