module tb;
  reg clk = 0;
  reg reset, load, shift, din;
  reg [7:0] d;
  wire [7:0] q_ref, q_top;
  integer seed = 707, i, samples = 0, mismatches = 0;

  RefModule ref_i (.clk(clk), .reset(reset), .load(load), .shift(shift), .din(din), .d(d), .q(q_ref));
  TopModule top_i (.clk(clk), .reset(reset), .load(load), .shift(shift), .din(din), .d(d), .q(q_top));

  always #5 clk = ~clk;

  initial begin
    reset = 1;
    load = 0;
    shift = 0;
    din = 0;
    d = 0;
    repeat (2) @(negedge clk);
    for (i = 0; i < 300; i = i + 1) begin
      reset = ($random(seed) & 31) == 0;
      load = ($random(seed) & 7) == 0;
      shift = ($random(seed) & 3) != 0;
      din = $random(seed);
      d = $random(seed);
      if (i == 20) begin
        load = 1;
        shift = 1;
      end
      @(negedge clk);
      samples = samples + 1;
      if (q_ref !== q_top) mismatches = mismatches + 1;
    end
    $display("Mismatches: %0d in %0d samples", mismatches, samples);
    $finish;
  end

  initial begin
    #100000;
    $display("TIMEOUT");
    $finish;
  end
endmodule
