module tb;
  reg clk = 0;
  reg reset, en;
  reg [7:0] d;
  wire [7:0] acc_ref, acc_top;
  wire ovf_ref, ovf_top;
  integer seed = 909, i, samples = 0, mismatches = 0;

  RefModule ref_i (.clk(clk), .reset(reset), .en(en), .d(d), .acc(acc_ref), .ovf(ovf_ref));
  TopModule top_i (.clk(clk), .reset(reset), .en(en), .d(d), .acc(acc_top), .ovf(ovf_top));

  always #5 clk = ~clk;

  initial begin
    reset = 1;
    en = 0;
    d = 0;
    repeat (2) @(negedge clk);
    for (i = 0; i < 300; i = i + 1) begin
      reset = ($random(seed) & 31) == 0;
      en = ($random(seed) & 3) != 0;
      d = $random(seed);
      @(negedge clk);
      samples = samples + 1;
      if ({ovf_ref, acc_ref} !== {ovf_top, acc_top}) mismatches = mismatches + 1;
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
