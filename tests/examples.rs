//! The shipped examples, run as tests.

#[path = "../examples/hospitals.rs"]
mod hospitals;

#[test]
fn hospitals_example_computes_the_joint_report() {
    let a = [120, 342, 578, 95, 0, u32::MAX - 5];
    let b = [87, 410, 633, 140, 0, 3];
    let report = hospitals::joint_report(&a, &b).unwrap();
    let sums: Vec<u64> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| u64::from(x.wrapping_add(*y)))
        .collect();
    assert_eq!(report.sums, sums);
    assert_eq!(report.total, sums.iter().sum::<u64>() % (1 << 32));
}

#[test]
fn hospitals_example_program_runs() {
    hospitals::print_report().unwrap();
}
