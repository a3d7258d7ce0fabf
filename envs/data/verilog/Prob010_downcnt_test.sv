module tb;
  reg clk = 0;
  reg reset, load;
  reg [7:0] d;
  wire [7:0] cnt_ref, cnt_top;
  wire zero_ref, zero_top;
  integer seed = 1010, i, samples = 0, mismatches = 0;

  RefModule ref_i (.clk(clk), .reset(reset), .load(load), .d(d), .cnt(cnt_ref), .zero(zero_ref));
  TopModule top_i (.clk(clk), .reset(reset), .load(load), .d(d), .cnt(cnt_top), .zero(zero_top));

  always #5 clk = ~clk;

  initial begin
    reset = 1;
    load = 0;
    d = 0;
    repeat (2) @(negedge clk);
    for (i = 0; i < 300; i = i + 1) begin
      reset = ($random(seed) & 63) == 0;
      load = ($random(seed) & 15) == 0 || i == 5;
      d = $random(seed) & 15;
      if (i == 5) d = 3;
      @(negedge clk);
      samples = samples + 1;
      if ({zero_ref, cnt_ref} !== {zero_top, cnt_top}) mismatches = mismatches + 1;
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
